"""Models of the grievances app: built in a later issue (see the issue tracker)."""
