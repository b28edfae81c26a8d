"""The DTM pack's store migrations, numbered within the pack (`passage migrate`)."""
