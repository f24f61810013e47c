"""Read-only reports for auditors: coverage, compliance, overdue, ranking (考评)."""
