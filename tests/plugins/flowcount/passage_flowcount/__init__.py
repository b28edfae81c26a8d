"""Flow monitoring point counts: people entering and leaving through a monitoring point, per day."""
