"""Use cases that combine submissions and shared records: a submission arrives, a data verifier
decides on one. They sit above both packages, which do not import each other (ADR 0007)."""
