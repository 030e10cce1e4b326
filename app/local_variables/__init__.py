"""A municipality's or county's own variables, defined as data in the database."""
