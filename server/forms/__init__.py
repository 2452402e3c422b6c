"""Forms: publishing XLSForms as versioned XForms, and their media."""
