"""The built-in packs, each a plugin package (see `passage.plugins`): dtm, travel, staff, institutional."""
