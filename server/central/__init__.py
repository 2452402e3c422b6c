"""ODK Central's REST API, the subset pyodk, ruODK, Power BI and Excel use, under ``/v1/`` next to
the OpenRosa routes (docs/central-api.md lists the subset and every difference)."""
