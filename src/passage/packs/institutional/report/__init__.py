"""Reports built from the store: the annual report (HTML and PDF), its figures and charts."""
