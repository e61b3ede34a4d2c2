"""Chart and table builders: pure functions from a frame to an altair Chart or a GT table."""
