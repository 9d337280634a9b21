"""The KPI feed: business events from a CTMS or CRM, by signed webhook or CSV file."""
