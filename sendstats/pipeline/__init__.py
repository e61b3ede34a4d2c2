"""The build: the step table and the runner that executes it.

Each step declares what it reads, the function it runs, the table it writes and the schema
that checks it. The top of the data layers: may import core, acquire, geography, sources,
metrics and benchmarking; nothing below it imports it.
"""
