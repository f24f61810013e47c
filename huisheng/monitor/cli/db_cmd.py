"""(placeholder: commands of this group are being written)"""

import click


def register(main: click.Group) -> None:
    pass
