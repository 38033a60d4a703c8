"""Users, groups, permissions and app passwords."""
