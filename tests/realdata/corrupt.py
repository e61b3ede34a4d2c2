"""Tools that make corrupted variants of real raw files, in memory, for the bad-input corpus.

Each editor opens the bytes of a real published file and changes only what a test asks for,
keeping everything else as published: the other zip members (order, compression, dates), the
styles, merged cells and repeated rows of a spreadsheet, the other sheets and streams of an
``.xls``. A round trip with no edit reads exactly as the original (tests/test_bad_inputs.py
checks that), so a refusal is caused by the edit, not by the tool.

- :class:`Ods`: OpenDocument spreadsheets (content.xml edited as an element tree).
- :class:`Xlsx`: Office Open XML workbooks (the worksheet XML edited as text, cell by cell).
- :class:`Xls`: BIFF8 workbooks (records of the Workbook stream edited in place, same size).
- :func:`csv_records` / :func:`write_csv_records`: CSV files as lists of records.

openpyxl is not used: it takes about 12 s to load and save the 49,000-row ASCOF workbook, and
it cannot open the dashboard's derived DSG workbook at all (a drawing its relations name is
missing from the zip). No .xls writer is installed, so .xls edits are made in place.
"""

from __future__ import annotations

import copy
import csv
import io
import re
import struct
import zipfile
from xml.etree import ElementTree as ET

# --- zip containers (.ods, .xlsx) --------------------------------------------------------------


class _Zip:
    """The members of a zip file, to be written back in their original order and compression."""

    def __init__(self, data: bytes) -> None:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            self.infos = z.infolist()
            self.members = {i.filename: z.read(i) for i in self.infos}

    def zip_bytes(self) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for info in self.infos:
                # Level 1: the bytes inflate to the same members, and the 19 MB ASCOF sheet
                # deflates in a fraction of the default level's time.
                z.writestr(
                    info,
                    self.members[info.filename],
                    compress_type=info.compress_type,
                    compresslevel=1,
                )
        return out.getvalue()


def truncate(data: bytes, fraction: float = 0.6) -> bytes:
    """Return the first part of a file, as a download cut off mid-stream leaves it."""
    return data[: int(len(data) * fraction)]


# --- .ods --------------------------------------------------------------------------------------

NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "calcext": "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0",
}
_T = "{" + NS["table"] + "}"
_O = "{" + NS["office"] + "}"
_ROW, _CELL, _COVERED = _T + "table-row", _T + "table-cell", _T + "covered-table-cell"
_ROW_GROUPS = {_T + "table-header-rows", _T + "table-row-group", _T + "table-rows"}
_ROWS_REPEATED, _COLS_REPEATED = _T + "number-rows-repeated", _T + "number-columns-repeated"


def _repeat(elem: ET.Element, attr: str) -> int:
    return int(elem.get(attr, "1"))


def _set_repeat(elem: ET.Element, attr: str, n: int) -> None:
    if n == 1:
        elem.attrib.pop(attr, None)
    else:
        elem.set(attr, str(n))


def _split_run(parent: ET.Element, elem: ET.Element, attr: str, offset: int) -> ET.Element:
    """Split a repeated row or cell so that its ``offset``-th copy is an element of its own."""
    n = _repeat(elem, attr)
    if n == 1:
        return elem
    at = list(parent).index(elem)
    parent.remove(elem)
    parts = []
    for count in (offset, 1, n - offset - 1):
        if count:
            part = copy.deepcopy(elem)
            _set_repeat(part, attr, count)
            parts.append(part)
    for k, part in enumerate(parts):
        parent.insert(at + k, part)
    return parts[1] if offset else parts[0]


class Ods(_Zip):
    """An .ods file opened for editing; rows and columns are 0-based, as in the read grid."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        raw = self.members["content.xml"]
        head = raw[: raw.find(b">", raw.find(b"<office:document-content")) + 1]
        self._declared = dict(re.findall(rb'xmlns:([\w.-]+)="([^"]+)"', head))
        for prefix, uri in self._declared.items():
            ET.register_namespace(prefix.decode(), uri.decode())
        self.root = ET.fromstring(raw)

    def to_bytes(self) -> bytes:
        """Serialise content.xml (keeping every namespace declared) and rezip."""
        body = ET.tostring(self.root, encoding="UTF-8", xml_declaration=True)
        end = body.find(b">", body.find(b"<office:document-content")) + 1
        head = body[:end]
        missing = b"".join(
            b' xmlns:%s="%s"' % (p, u)
            for p, u in self._declared.items()
            if b"xmlns:%s=" % p not in head
        )
        self.members["content.xml"] = head[:-1] + missing + b">" + body[end:]
        return self.zip_bytes()

    def table(self, name: str) -> ET.Element:
        for t in self.root.iter(_T + "table"):
            if t.get(_T + "name") == name:
                return t
        raise KeyError(name)

    def rename_sheet(self, old: str, new: str) -> None:
        self.table(old).set(_T + "name", new)
        if "settings.xml" in self.members:
            self.members["settings.xml"] = self.members["settings.xml"].replace(
                f'config:name="{old}"'.encode(), f'config:name="{new}"'.encode()
            )

    @staticmethod
    def _row_runs(parent: ET.Element) -> list[tuple[ET.Element, ET.Element]]:
        out: list[tuple[ET.Element, ET.Element]] = []
        for child in parent:
            if child.tag == _ROW:
                out.append((parent, child))
            elif child.tag in _ROW_GROUPS:
                out.extend(Ods._row_runs(child))
        return out

    def row(self, sheet: str, r: int) -> ET.Element:
        """Return the element of row ``r``, splitting a repeated run if needed."""
        start = 0
        for parent, elem in self._row_runs(self.table(sheet)):
            n = _repeat(elem, _ROWS_REPEATED)
            if start <= r < start + n:
                return _split_run(parent, elem, _ROWS_REPEATED, r - start)
            start += n
        raise IndexError(r)

    @staticmethod
    def cell(row: ET.Element, c: int) -> ET.Element:
        """Return the element of column ``c`` in a row, splitting a repeated run if needed."""
        start = 0
        for elem in [e for e in row if e.tag in (_CELL, _COVERED)]:
            n = _repeat(elem, _COLS_REPEATED)
            if start <= c < start + n:
                return _split_run(row, elem, _COLS_REPEATED, c - start)
            start += n
        raise IndexError(c)

    def set_cell(self, sheet: str, r: int, c: int, value: str | float) -> None:
        """Write a text or number cell, keeping the cell's style."""
        cell = self.cell(self.row(sheet, r), c)
        for key in list(cell.attrib):
            if key.startswith(_O) or key.endswith("}value-type") or key == _T + "formula":
                del cell.attrib[key]
        for child in list(cell):
            cell.remove(child)
        text = ET.SubElement(cell, "{" + NS["text"] + "}p")
        if isinstance(value, str):
            cell.set(_O + "value-type", "string")
            text.text = value
        else:
            cell.set(_O + "value-type", "float")
            cell.set(_O + "value", repr(value))
            text.text = f"{value:g}"
        if b"calcext" in self._declared:
            cell.set("{" + NS["calcext"] + "}value-type", cell.get(_O + "value-type", ""))

    def insert_rows(self, sheet: str, at: int, texts: list[str]) -> None:
        """Insert rows before row ``at``, each holding one text (or nothing) in column A."""
        target = self.row(sheet, at)
        parent = next(p for p, e in self._row_runs(self.table(sheet)) if e is target)
        index = list(parent).index(target)
        for k, text in enumerate(texts):
            new = ET.Element(_ROW)
            cell = ET.SubElement(new, _CELL)
            if text:
                cell.set(_O + "value-type", "string")
                ET.SubElement(cell, "{" + NS["text"] + "}p").text = text
            parent.insert(index + k, new)

    def duplicate_row(self, sheet: str, r: int) -> None:
        """Insert a copy of row ``r`` right after it."""
        target = self.row(sheet, r)
        parent = next(p for p, e in self._row_runs(self.table(sheet)) if e is target)
        parent.insert(list(parent).index(target) + 1, copy.deepcopy(target))

    def delete_column(self, sheet: str, c: int) -> None:
        """Remove column ``c`` from every row, narrowing any merged cell that spans it."""
        table = self.table(sheet)
        for _, row in self._row_runs(table):
            cells = [e for e in row if e.tag in (_CELL, _COVERED)]
            width = sum(_repeat(e, _COLS_REPEATED) for e in cells)
            if c >= width:
                continue
            target = self.cell(row, c)
            if target.tag == _COVERED:
                self._narrow_span(row, c)
            elif int(target.get(_T + "number-columns-spanned", "1")) > 1:
                raise NotImplementedError("deleting the first column of a merged cell")
            row.remove(target)
        columns = [e for e in table if e.tag == _T + "table-column"]
        start = 0
        for col in columns:
            n = _repeat(col, _COLS_REPEATED)
            if start <= c < start + n:
                if n > 1:
                    _set_repeat(col, _COLS_REPEATED, n - 1)
                else:
                    table.remove(col)
                break
            start += n

    def _narrow_span(self, row: ET.Element, c: int) -> None:
        start = 0
        for elem in [e for e in row if e.tag in (_CELL, _COVERED)]:
            span = int(elem.get(_T + "number-columns-spanned", "1"))
            if elem.tag == _CELL and start < c < start + span:
                elem.set(_T + "number-columns-spanned", str(span - 1))
                return
            start += _repeat(elem, _COLS_REPEATED)


# --- .xlsx -------------------------------------------------------------------------------------

_CELL_REF = re.compile(r'(<c\b[^>]*?\sr=")([A-Z]+)(\d+)(")')


def col_letter(c: int) -> str:
    """Return the column letters of a 0-based column index (0 -> A, 26 -> AA)."""
    out = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        out = chr(65 + rem) + out
    return out


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Xlsx(_Zip):
    """An .xlsx workbook with its first worksheet opened for editing (rows 1-based, as Excel)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        book = self.members["xl/workbook.xml"].decode("utf-8")
        rels = self.members["xl/_rels/workbook.xml.rels"].decode("utf-8")
        rid = re.search(r'<sheet\b[^>]*\br:id="([^"]+)"', book)
        assert rid is not None
        target = re.search(rf'Id="{rid.group(1)}"[^>]*Target="([^"]+)"', rels) or re.search(
            rf'Target="([^"]+)"[^>]*Id="{rid.group(1)}"', rels
        )
        assert target is not None
        self.sheet_path = "xl/" + target.group(1).removeprefix("/xl/")
        self.xml = self.members[self.sheet_path].decode("utf-8")

    def to_bytes(self) -> bytes:
        self.members[self.sheet_path] = self.xml.encode("utf-8")
        return self.zip_bytes()

    def rename_sheet(self, old: str, new: str) -> None:
        for name in ("xl/workbook.xml", "docProps/app.xml"):
            if name in self.members:
                text = self.members[name].decode("utf-8")
                text = text.replace(f'<sheet name="{old}"', f'<sheet name="{new}"')
                text = text.replace(f"<vt:lpstr>{old}</vt:lpstr>", f"<vt:lpstr>{new}</vt:lpstr>")
                self.members[name] = text.encode("utf-8")

    def _row_span(self, r: int) -> tuple[int, int]:
        m = re.search(rf'<row r="{r}"[^>]*?(?:/>|>.*?</row>)', self.xml, re.S)
        if m is None:
            raise IndexError(r)
        return m.start(), m.end()

    def set_cell(self, r: int, c: int, value: str | float) -> None:
        """Write a text (inline string) or number cell, keeping the cell's style."""
        start, end = self._row_span(r)
        row = self.xml[start:end]
        ref = f"{col_letter(c)}{r}"
        m = re.search(rf'<c\b([^>]*?)\sr="{ref}"([^>]*?)(?:/>|>.*?</c>)', row, re.S)
        if m is None:
            raise IndexError(ref)
        style = re.search(r'\ss="(\d+)"', m.group(1) + m.group(2))
        s = f' s="{style.group(1)}"' if style else ""
        if isinstance(value, str):
            new = f'<c r="{ref}"{s} t="inlineStr"><is><t>{_xml_escape(value)}</t></is></c>'
        else:
            new = f'<c r="{ref}"{s}><v>{value!r}</v></c>'
        row = row[: m.start()] + new + row[m.end() :]
        self.xml = self.xml[:start] + row + self.xml[end:]

    def _renumber(self, text: str, shift_rows: int, drop_col: int | None = None) -> str:
        def rows(m: re.Match[str]) -> str:
            return f'<row r="{int(m.group(1)) + shift_rows}"'

        def cells(m: re.Match[str]) -> str:
            col = _col_index(m.group(2))
            if drop_col is not None and col > drop_col:
                col -= 1
            return f"{m.group(1)}{col_letter(col)}{int(m.group(3)) + shift_rows}{m.group(4)}"

        return _CELL_REF.sub(cells, re.sub(r'<row r="(\d+)"', rows, text))

    def _last_row(self) -> int:
        return max(int(r) for r in re.findall(r'<row r="(\d+)"', self.xml))

    def _set_dimension(self) -> None:
        last = self._last_row()
        self.xml = re.sub(
            r'<dimension ref="([A-Z]+\d+)(?::([A-Z]+)\d+)?"/>',
            lambda m: (
                f'<dimension ref="A1:{m.group(2) or "A"}{last}"/>' if m.group(2) else m.group(0)
            ),
            self.xml,
            count=1,
        )

    def insert_rows_on_top(self, texts: list[str]) -> None:
        """Insert rows above row 1, each holding one text (or nothing) in column A."""
        start = self.xml.index("<sheetData>") + len("<sheetData>")
        end = self.xml.index("</sheetData>")
        body = self._renumber(self.xml[start:end], len(texts))
        new = "".join(
            f'<row r="{k}"><c r="A{k}" t="inlineStr"><is><t>{_xml_escape(t)}</t></is></c></row>'
            if t
            else f'<row r="{k}"/>'
            for k, t in enumerate(texts, start=1)
        )
        self.xml = self.xml[:start] + new + body + self.xml[end:]
        self._set_dimension()

    def append_copy_of_row(self, r: int) -> int:
        """Append a copy of row ``r`` after the last row; return its row number."""
        start, end = self._row_span(r)
        new_r = self._last_row() + 1
        copy_ = self._renumber(self.xml[start:end], new_r - r)
        at = self.xml.index("</sheetData>")
        self.xml = self.xml[:at] + copy_ + self.xml[at:]
        self._set_dimension()
        return new_r

    def delete_column(self, c: int) -> None:
        """Remove column ``c`` (0-based) from every row, shifting the later columns left."""
        letters = col_letter(c)
        start = self.xml.index("<sheetData>")
        end = self.xml.index("</sheetData>")
        body = re.sub(
            rf'<c\b[^>]*?\sr="{letters}\d+"[^>]*?(?:/>|>.*?</c>)',
            "",
            self.xml[start:end],
            flags=re.S,
        )
        self.xml = self.xml[:start] + self._renumber(body, 0, drop_col=c) + self.xml[end:]


# --- .xls (BIFF8 in an OLE2 compound file) -----------------------------------------------------

_CELL_RECORDS = {0x0006, 0x00BD, 0x00BE, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E}
_ROW_RECORD, _DIMENSIONS, _HLINK, _MULRK, _LABELSST = 0x0208, 0x0200, 0x01B8, 0x00BD, 0x00FD
_BOUNDSHEET, _EOF = 0x0085, 0x000A


class Xls:
    """A BIFF8 .xls whose Workbook stream is edited in place (no record changes size).

    Rows and columns are 0-based, as xlrd counts them.
    """

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        self._offsets, self._sector, size = self._locate_workbook()
        joined = b"".join(bytes(self.data[o : o + self._sector]) for o in self._offsets)
        self.stream = bytearray(joined[:size])

    def _locate_workbook(self) -> tuple[list[int], int, int]:
        data = self.data
        assert data[:8] == bytes.fromhex("d0cf11e0a1b11ae1"), "not an OLE2 compound file"
        sector = 1 << int(struct.unpack_from("<H", data, 30)[0])
        n_fat, first_dir = (
            struct.unpack_from("<I", data, 44)[0],
            struct.unpack_from("<I", data, 48)[0],
        )
        cutoff = struct.unpack_from("<I", data, 56)[0]
        difat_next, n_difat = struct.unpack_from("<II", data, 68)

        def at(s: int) -> int:
            return 512 + s * sector

        difat = list(struct.unpack_from("<109I", data, 76))
        for _ in range(n_difat):
            vals = struct.unpack_from(f"<{sector // 4}I", data, at(difat_next))
            difat += vals[:-1]
            difat_next = vals[-1]
        fat: list[int] = []
        for s in difat[:n_fat]:
            fat += struct.unpack_from(f"<{sector // 4}I", data, at(s))

        def chain(s: int) -> list[int]:
            out = []
            while s < 0xFFFFFFFA:
                out.append(s)
                s = fat[s]
            return out

        for d in chain(first_dir):
            for k in range(sector // 128):
                e = at(d) + k * 128
                length = struct.unpack_from("<H", data, e + 64)[0]
                name = bytes(data[e : e + max(length - 2, 0)]).decode("utf-16-le")
                if name in ("Workbook", "Book"):
                    start, size = struct.unpack_from("<II", data, e + 116)
                    assert size >= cutoff, "workbook stream in the mini stream"
                    return [at(s) for s in chain(start)], sector, size
        raise KeyError("Workbook")

    def to_bytes(self) -> bytes:
        out = bytearray(self.data)
        for i, o in enumerate(self._offsets):
            part = self.stream[i * self._sector : (i + 1) * self._sector]
            out[o : o + len(part)] = part
        return bytes(out)

    def _records(self, start: int = 0) -> list[tuple[int, int, int]]:
        """Return (type, offset of data, length) of each record from ``start`` to its EOF."""
        out = []
        pos = start
        while pos < len(self.stream):
            rtype, length = struct.unpack_from("<HH", self.stream, pos)
            out.append((rtype, pos + 4, length))
            pos += 4 + length
            if rtype == _EOF:
                break
        return out

    def _boundsheets(self) -> list[tuple[int, str, int]]:
        """Return (offset of record data, sheet name, offset of the sheet's BOF)."""
        out = []
        for rtype, pos, _ in self._records():
            if rtype == _BOUNDSHEET:
                bof = struct.unpack_from("<I", self.stream, pos)[0]
                cch, flags = self.stream[pos + 6], self.stream[pos + 7]
                raw = bytes(self.stream[pos + 8 : pos + 8 + cch * (2 if flags & 1 else 1)])
                name = raw.decode("utf-16-le" if flags & 1 else "latin-1")
                out.append((pos, name, bof))
        return out

    def rename_sheet(self, old: str, new: str) -> None:
        assert len(new) == len(old), "a renamed sheet keeps its length (in-place edit)"
        pos = next(b[0] for b in self._boundsheets() if b[1] == old)
        flags = self.stream[pos + 7]
        enc = new.encode("utf-16-le" if flags & 1 else "latin-1")
        self.stream[pos + 8 : pos + 8 + len(enc)] = enc

    def _sheet_records(self, sheet: str) -> list[tuple[int, int, int]]:
        _, _, bof = next(b for b in self._boundsheets() if b[1] == sheet)
        return self._records(bof)

    def shift_rows(self, sheet: str, n: int) -> None:
        """Move every cell of a sheet ``n`` rows down: blank rows appear above the header."""
        for rtype, pos, _ in self._sheet_records(sheet):
            if rtype in _CELL_RECORDS or rtype == _ROW_RECORD:
                self._add_u16(pos, n)
            elif rtype == _HLINK:
                self._add_u16(pos, n)
                self._add_u16(pos + 2, n)
            elif rtype == _DIMENSIONS:
                for k in (0, 4):
                    value = struct.unpack_from("<I", self.stream, pos + k)[0]
                    struct.pack_into("<I", self.stream, pos + k, value + n)

    def _add_u16(self, pos: int, n: int) -> None:
        struct.pack_into("<H", self.stream, pos, struct.unpack_from("<H", self.stream, pos)[0] + n)

    def label_sst_index(self, sheet: str, r: int, c: int) -> int:
        """Return the shared-string index of a text cell."""
        pos = self._label(sheet, r, c)
        return int(struct.unpack_from("<I", self.stream, pos + 6)[0])

    def _label(self, sheet: str, r: int, c: int) -> int:
        for rtype, pos, _ in self._sheet_records(sheet):
            if rtype == _LABELSST and struct.unpack_from("<HH", self.stream, pos) == (r, c):
                return pos
        raise IndexError((sheet, r, c))

    def point_label(self, sheet: str, r: int, c: int, sst_index: int) -> None:
        """Make a text cell show another string of the shared-string table."""
        struct.pack_into("<I", self.stream, self._label(sheet, r, c) + 6, sst_index)

    def negate_number(self, sheet: str, r: int, c: int) -> None:
        """Flip the sign of a number stored in a MULRK record."""
        for rtype, pos, length in self._sheet_records(sheet):
            if rtype != _MULRK:
                continue
            row, first = struct.unpack_from("<HH", self.stream, pos)
            last = struct.unpack_from("<H", self.stream, pos + length - 2)[0]
            if row == r and first <= c <= last:
                at = pos + 4 + (c - first) * 6 + 2
                rk = struct.unpack_from("<I", self.stream, at)[0]
                if rk & 2:  # 30-bit signed integer
                    value = (rk >> 2) - (1 << 30) if rk & 0x80000000 else rk >> 2
                    rk = ((-value << 2) & 0xFFFFFFFF) | (rk & 3)
                else:  # upper 32 bits of an IEEE double
                    rk ^= 0x80000000
                struct.pack_into("<I", self.stream, at, rk)
                return
        raise IndexError((sheet, r, c))

    def move_label_into(self, sheet: str, r: int, c_from: int, c_to: int) -> None:
        """Move a row's text cell into a numeric column (after the row's MULRK, same bytes).

        The LABELSST record is moved to just after the MULRK of its row, so a reader that
        applies records in order sees the text replace the number: text in a numeric column.
        """
        records = self._sheet_records(sheet)
        label = next(
            (t, p, n)
            for t, p, n in records
            if t == _LABELSST and struct.unpack_from("<HH", self.stream, p) == (r, c_from)
        )
        mulrk = next(
            (t, p, n)
            for t, p, n in records
            if t == _MULRK and struct.unpack_from("<H", self.stream, p)[0] == r
        )
        assert label[1] < mulrk[1], "the text cell precedes the numbers of its row"
        start, end = label[1] - 4, mulrk[1] + mulrk[2]
        label_bytes = bytearray(self.stream[label[1] - 4 : label[1] + label[2]])
        struct.pack_into("<H", label_bytes, 4 + 2, c_to)
        between = self.stream[label[1] + label[2] : end]
        self.stream[start:end] = between + label_bytes


# --- CSV ---------------------------------------------------------------------------------------


def csv_records(data: bytes) -> tuple[list[list[str]], bool, str]:
    """Return (records, had a UTF-8 BOM, line terminator) of a UTF-8 CSV file."""
    bom = data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    newline = "\r\n" if "\r\n" in text[:5000] else "\n"
    return list(csv.reader(io.StringIO(text))), bom, newline


def write_csv_records(records: list[list[str]], *, bom: bool, newline: str) -> bytes:
    """Write records back as the publisher did (quoting only where needed)."""
    out = io.StringIO()
    csv.writer(out, lineterminator=newline).writerows(records)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")
