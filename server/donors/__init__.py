"""Donor accountability: donors, funding agreements, IATI transactions and the donor report."""
