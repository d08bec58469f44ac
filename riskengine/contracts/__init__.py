"""What data is: table contracts, payloads, decisions, dates, ids."""
