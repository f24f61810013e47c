"""People who use the workbench: who they are, what they may see and do
(:mod:`.directory`), and how they sign in (:mod:`.signin`)."""

from huisheng.users.directory import (ROLE_LABELS, Role, UserError, add_user, can_act, can_see, find_user,
                                      set_role, sync_matrix_users, visible_units)

__all__ = ["ROLE_LABELS", "Role", "UserError", "add_user", "can_act", "can_see", "find_user", "set_role",
           "sync_matrix_users", "visible_units"]
