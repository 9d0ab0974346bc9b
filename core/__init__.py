"""diskwright engine: profiles, scans, estimates, plans and the runner. Headless by design."""
