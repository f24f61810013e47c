"""A synthetic district matrix for tests and benchmarks that need one without
reading ``config/`` (the example district is loaded from its files instead)."""

from __future__ import annotations

from huisheng.config.settings import AccountSpec, Matrix, UnitSpec

DEPARTMENTS = (
    "区政府办公室", "住房和城乡建设委员会", "生态环境局", "交通局", "教育委员会", "人力资源和社会保障局",
    "商务委员会", "卫生健康委员会", "城市管理局", "公安分局", "市场监督管理局", "民政局", "司法局",
    "财政局", "文化和旅游局", "体育局", "应急管理局", "水务局", "园林绿化局", "规划和自然资源分局",
    "退役军人事务局", "医疗保障局", "统计局", "审计局", "科学技术委员会", "农业农村局", "信访办",
    "政务服务管理局", "融媒体中心", "消防救援支队",
)
STREETS = ("东城", "西城", "南苑", "北关", "新华", "长安", "和平", "建设", "青年", "花园", "永安", "太平")


def sample_matrix(accounts: int = 176, streets: int = 8) -> Matrix:
    """A district, its departments, ``streets`` streets and enough communities to
    give ``accounts`` Weibo accounts (one per unit, uids ``1000000001``…)."""
    units = [UnitSpec("D", "示范区", "district")]
    units += [UnitSpec(f"B{i:02d}", name, "department", "D") for i, name in enumerate(DEPARTMENTS)]
    street_units = [UnitSpec(f"S{i:02d}", f"{STREETS[i % len(STREETS)]}街道", "street", "D",
                             aliases=(f"{STREETS[i % len(STREETS)]}",)) for i in range(streets)]
    units += street_units
    needed = max(0, accounts - len(units))
    for k in range(needed):
        street = street_units[k % streets]
        n = k // streets + 1
        units.append(UnitSpec(f"{street.code}C{n:02d}", f"{street.name[:-2]}第{n}社区", "community", street.code,
                              aliases=(f"{street.name[:-2]}{n}号院",)))
    specs = tuple(AccountSpec("weibo", str(1_000_000_001 + i), _account_name(u), u.code)
                  for i, u in enumerate(units[:accounts]))
    return Matrix(tuple(units), specs)


def _account_name(unit: UnitSpec) -> str:
    if unit.level == "district":
        return f"{unit.name}发布"
    if unit.level == "department":
        return f"示范区{unit.name}"
    return unit.name
