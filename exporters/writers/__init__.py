"""Writers: a :class:`~exporters.summary.Summary` in, bytes out (no files here;
the caller decides where the bytes go)."""
