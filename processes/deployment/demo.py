"""The demo units' duties (职责), so that the demo's items are suggested the units they belong
to: the city bureau's own, each county bureau's civil-affairs duties, the township offices' and
the institutions'. Keyed by the demo's unit codes (without the DEMO- prefix the units carry)."""
from .models import UnitDuty

COUNTY = [
    ("社会救助（低保、特困、临时救助）", "社会救助、低保、最低生活保障、特困、临时救助、低收入、救助资金"),
    ("养老服务", "养老、老年人、敬老院、养老机构、居家养老、助餐、适老化、高龄津贴"),
    ("儿童福利和未成年人保护", "儿童、孤儿、事实无人抚养、留守儿童、困境儿童、未成年人"),
    ("残疾人福利（两项补贴）", "残疾人、两项补贴、生活补贴、护理补贴"),
    ("社会组织登记和监管", "社会组织、社会团体、民办非企业、年检、年报、行业协会"),
    ("区划地名管理", "区划、地名、门牌、界线、勘界"),
    ("婚姻登记", "婚姻、结婚、离婚、婚俗"),
    ("殡葬管理", "殡葬、火化、公墓、骨灰、散埋乱葬、祭扫、移风易俗"),
    ("慈善和社会工作", "慈善、募捐、社会工作、社工、志愿服务、志愿者"),
    ("流浪乞讨人员救助管理", "流浪、乞讨、救助管理站、寻亲"),
]
TOWNSHIP = [
    ("社会救助申请受理和入户调查", "低保、特困、临时救助、入户调查、申请受理、动态管理"),
    ("农村留守老人、留守儿童和困境群众关爱", "留守老人、留守儿童、探访、关爱、困境"),
    ("村（居）民委员会建设和城乡社区治理", "村委会、居委会、村务公开、社区治理、城乡社区"),
]
INSTITUTIONS = {
    "ELDERLY_CARE": [
        ("特困人员集中供养和机构养老服务", "养老院、集中供养、护理、入住评估、失能、助餐"),
        ("养老机构消防和食品安全", "消防、灭火器、燃气、食堂、电动车、疏散"),
    ],
    "CHILD_WELFARE": [("孤弃儿童养育、康复和特殊教育", "孤儿、弃婴、儿童福利院、康复、特殊教育、收养、寄养")],
    "RELIEF_STATION": [("流浪乞讨人员救助和寻亲返乡", "流浪、乞讨、寻亲、返乡、受助人员、街面巡查")],
    "FUNERAL_HOME": [("遗体接运、火化和殡仪服务", "遗体、火化、殡仪、骨灰寄存、殡葬服务、惠民殡葬")],
    "SOCIAL_ORG": [("慈善募捐和慈善项目", "慈善、募捐、捐赠、慈善项目、慈善超市")],
    "SOCIAL_WORK": [("社会工作服务和志愿服务", "社工、社会工作、志愿服务、志愿者、个案")],
}

CITY = [
    ("民政事业发展规划和政策法规", "发展规划、政策、法规、法治、标准化"),
    ("民政服务机构安全监管", "安全生产、消防、燃气、安全隐患、应急"),
    ("民政资金监管和统计", "资金监管、审计、统计、预算"),
]
COUNTIES = ("DC", "XS", "NH")  # each with townships T0 and T1 and one institution of each kind

DEMO_DUTIES: dict[str, list[tuple[str, str]]] = {
    "CITY": CITY,
    **{county: COUNTY for county in COUNTIES},
    **{f"{county}-T{n}": TOWNSHIP for county in COUNTIES for n in (0, 1)},
    **{f"{county}-{kind}": duties for county in COUNTIES for kind, duties in INSTITUTIONS.items()},
}


def load_demo_duties(units) -> int:
    """Give the demo units (a mapping of demo code to unit, as the demo seed builds it) their
    duties. A duty the unit already has, by its text, is left as it is (the administrator may
    have changed its keywords); codes not among `units` are skipped. Returns how many were added."""
    wanted = [(units[code], duty, words) for code, rows in DEMO_DUTIES.items() if code in units
              for duty, words in rows]
    existing = set(UnitDuty.objects.filter(unit__in=[unit for unit, _d, _w in wanted])
                   .values_list("unit_id", "duty"))
    added = [UnitDuty(unit=unit, duty=duty, keywords=words) for unit, duty, words in wanted
             if (unit.pk, duty) not in existing]
    UnitDuty.objects.bulk_create(added)
    return len(added)
