"""The web workbench: every unit works its flags, auditors see the district.

``huisheng.web.app.create_app`` builds the Flask application; ``huisheng web``
(and ``huisheng run`` with ``[web] enabled``) serves it with waitress.  This
package stays import-light: the config table lives in :mod:`.config`, which
the config loader imports for every command.
"""
