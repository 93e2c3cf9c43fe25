"""Who is calling: authentication and the caller's own identity."""
