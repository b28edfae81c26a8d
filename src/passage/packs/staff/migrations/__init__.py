"""The staff pack's store migrations, numbered within the pack (`passage migrate`)."""
