"""huisheng (回声): every citizen who speaks to a district's government accounts gets an answer."""

__version__ = "0.1.0"
