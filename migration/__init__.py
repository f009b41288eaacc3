"""Django `contrib.auth` to DataFlow: migrate users, groups, permissions, memberships and grants, then
verify both sides answer alike (`python -m migration --help`)."""
