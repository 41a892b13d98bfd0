"""Models of the messaging app: built in a later issue (see the issue tracker)."""
