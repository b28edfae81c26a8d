"""The DTM mobility tracking pack."""
