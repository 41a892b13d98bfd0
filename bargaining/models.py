"""Models of the bargaining app: built in a later issue (see the issue tracker)."""
