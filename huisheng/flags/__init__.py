"""Flags (需回复): deciding what needs a reply, routing it, and running its clock."""
