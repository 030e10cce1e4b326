"""Server-rendered web interface (Swedish) for caseworkers and coordinators, and
the client survey on one-time links. See docs/web.md."""
