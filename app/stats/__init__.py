"""Statistics: the analysis frame read from the database, the national
compilation as a service, its API routes and the ``isu export`` commands."""
