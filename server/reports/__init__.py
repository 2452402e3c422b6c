"""Coalition reports: CCM Article 7, Landmine and Cluster Munition Monitor figures, the 3W/4W
matrix and national strategy progress, computed from reporting tables kept current at intake
(docs/reports.md, ADR 0017)."""
