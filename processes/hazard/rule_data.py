"""The rule sets shipped with hazards, as data an administrator edits or replaces with a newer
version (/admin/ → 规则集版本). Only what the reference confirms is here: of the 22 situations
of 《养老机构重大事故隐患判定标准》 the seven whose wording was read; the rest are for an
administrator to add from the official text, never guessed. Checklist items propose a grade
(G general, M major, G/M general unless the cited criterion is met) and cite their basis."""

CRITERIA = {
    "kind": "hazard.criteria", "name": "elderly_care", "version": "2023",
    "title": "养老机构重大事故隐患判定标准", "effective_from": "2023-11-27",
    "note": "民政部办公厅通知印发（2023-11-27）。仅收录已核实原文的条款；其余条款待管理员依正式文本补充。",
    "body": {
        "document": "养老机构重大事故隐患判定标准",
        "general_rule": "未落实安全管理有关法律法规和强制性标准等基本要求，可能导致人员重大伤亡、财产重大损失的，"
                        "应当判定为存在重大事故隐患。",
        "categories": ["重要设施设备存在严重缺陷", "安全生产相关资格资质不符合法定要求", "日常管理存在严重问题",
                       "严重违法违规提供服务", "其他可能导致人员重大伤亡、财产重大损失的重大事故隐患"],
        "articles": [
            {"code": "4(一)", "text": "建筑设施经鉴定属于C级、D级危房或者经住房城乡建设部门研判建筑安全存在重大隐患"},
            {"code": "4(二)", "text": "经住建、消防等部门检查或第三方专业机构评估，判定建筑防火设计、消防、电气、燃气等设施设备"
                                     "不符合法律法规和强制性标准，不具备消防安全技术条件，存在重大事故隐患"},
            {"code": "4(三)", "text": "违规使用易燃可燃材料为芯材的彩钢板搭建有人活动的建筑或者大量使用易燃可燃材料装修装饰"},
            {"code": "4(四)", "text": "使用未取得许可生产、未经检验或者检验不合格、国家明令淘汰、已经报废的电梯、锅炉、"
                                     "氧气管道等特种设备"},
            {"code": "5(一)", "text": "内设医疗机构的，未依法取得医疗机构执业许可证或者未依法办理备案"},
            {"code": "5(二)", "text": "内设食堂的，未依法取得食品经营许可证"},
            {"code": "5(三)", "text": "使用未取得相应资格的人员从事特种设备安全管理、检测等工作"},
        ],
    },
}


def _item(code, section, title, check, grade="G", criterion="", category="fire", tag="", source=""):
    return {"code": code, "section": section, "title": title, "check": check, "grade": grade,
            "criterion": criterion, "category": category, "tag": tag, "source": source}


FIRE = {
    "kind": "hazard.checklist", "name": "fire", "version": "2023",
    "title": "养老机构消防安全检查表", "effective_from": "2023-08-01",
    "note": "依据《养老机构消防安全管理规定》（民发〔2023〕37号）及《养老机构重大事故隐患判定标准》。",
    "body": {"items": [
        _item("A1", "消防安全责任", "消防安全责任制", "逐级、逐岗位落实消防安全责任；消防安全责任人为法定代表人、主要负责人或实际控制人；"
              "重点单位明确消防安全管理人。", source="规定 一(一)"),
        _item("A2", "消防安全责任", "制度与操作规程", "防火巡查检查、安全疏散设施管理、设施器材维护、隐患整改、用火用电、培训、"
              "考评奖惩等制度；控制室值班、燃气设备使用、预案演练等操作规程。", source="规定 一(二)"),
        _item("A3", "消防安全责任", "共用建筑责任划分", "多方使用同一建筑的，书面明确各方消防安全责任。", source="规定 一(三)"),
        _item("A4", "消防安全责任", "巡查检查记录", "每日防火巡查、夜间加强巡查、每月防火检查，记录齐全。", source="规定"),
        _item("B1", "场所安全设置", "场所设置", "建筑合法；未设在易燃易爆危险品场所、厂房、仓库或大型市场内，未与工业建筑组合建造。",
              grade="G/M", criterion="4(二)", source="规定"),
        _item("B2", "场所安全设置", "楼层与耐火等级", "老年人用房不设在地下；三级耐火等级建筑不超过2层；失能老年人居住在便于疏散的楼层。",
              grade="G/M", source="GB 50016"),
        _item("B3", "场所安全设置", "可燃装修与彩钢板", "未使用易燃可燃材料为芯材的彩钢板搭建有人活动的建筑，未大量使用易燃可燃材料装修装饰。",
              grade="M", criterion="4(三)", source="判定标准 4(三)"),
        _item("B4", "场所安全设置", "防火分隔与防火门", "防火门设置齐全、能正常关闭。", grade="G/M", source="GB 35181"),
        _item("C1", "安全疏散", "疏散通道与安全出口", "疏散通道、安全出口、消防车通道未被占用、堵塞、封闭。", grade="G/M",
              source="规定；GB 35181"),
        _item("C2", "安全疏散", "门窗障碍物", "未设置影响逃生的防盗窗、栅栏，逃生窗未上锁。", grade="G/M"),
        _item("C3", "安全疏散", "应急照明与疏散指示", "应急照明、疏散指示标志设置并完好有效。", grade="G/M", source="GB 35181 7.3.6"),
        _item("D1", "消防设施器材", "灭火器", "配置数量足够、压力正常、在有效期内、摆放位置正确。"),
        _item("D2", "消防设施器材", "火灾报警与喷淋", "按规定设置自动报警或独立式感烟探测器、自动喷水灭火系统（含简易喷淋），并处于开启状态。",
              grade="G/M"),
        _item("D3", "消防设施器材", "消火栓", "有水、有压。"),
        _item("D4", "消防设施器材", "年度检测与维保", "建筑消防设施每年至少全面检测一次。", source="消防法"),
        _item("D5", "消防设施器材", "消防控制室", "24小时双人值班（地方规定允许的可单人），值班人员持消防设施操作员证书，设备正常运行。",
              source="规定"),
        _item("E1", "用火用电管理", "吸烟与明火", "室内活动区域和走道内不吸烟、不烧香；不使用明火照明取暖；蚊香远离可燃物。", source="规定"),
        _item("E2", "用火用电管理", "电动车停放充电", "电动自行车、电动摩托车、电动轮椅集中停放、规范充电；严禁在室内、安全出口、疏散通道停放和充电。",
              source="规定"),
        _item("E3", "用火用电管理", "动火作业", "动火作业审批、看护、清理。"),
        _item("E4", "用火用电管理", "厨房", "燃气设备定期检查，油烟管道定期清洗。"),
        _item("F1", "应急处置", "值班", "24小时值班，夜间值守人员与失能老年人数量相适应。", source="规定"),
        _item("F2", "应急处置", "灭火和应急疏散预案", "制定本单位灭火和应急疏散预案，明确失能老年人疏散的责任人员。",
              tag="emergency_plan", source="规定"),
        _item("F3", "应急处置", "应急演练", "定期组织演练；消防安全重点单位至少每半年一次。", tag="drill"),
        _item("F4", "应急处置", "消防培训", "全员至少每半年培训一次；新上岗、转岗人员岗前培训；老年人消防安全宣传。", source="规定"),
        _item("F5", "应急处置", "微型消防站与“四个能力”", "人员、器材到位；抽查检查消除火灾隐患、扑救初起火灾、组织疏散逃生、消防宣传教育能力。"),
    ]},
}

POWER_GAS = {
    "kind": "hazard.checklist", "name": "power_gas", "version": "2024",
    "title": "养老机构用电用气安全检查表", "effective_from": "2024-01-01",
    "note": "依据《养老机构消防安全管理规定》及《养老机构重大事故隐患判定标准》第四条、第五条。",
    "body": {"items": [
        _item("EL1", "用电安全", "线路敷设", "线路穿管敷设，无私拉乱接，无绝缘老化、插座破损。", category="electrical"),
        _item("EL2", "用电安全", "吊顶内线路", "敷设在有可燃物的吊顶内的电气线路穿金属管或金属线槽保护。", category="electrical"),
        _item("EL3", "用电安全", "持证作业", "电气线路敷设、安装、维修由具备资格的电工进行。", category="electrical", source="规定"),
        _item("EL4", "用电安全", "负荷保护", "老年人居室、康复与医疗用房设置过载、过电压保护，限制大功率电器使用。", category="electrical",
              source="规定"),
        _item("EL5", "用电安全", "漏电保护与配电箱", "总开关和末端回路装设漏电保护装置，配电箱上锁、周边无杂物。", category="electrical"),
        _item("EL6", "用电安全", "取暖电器", "电暖器、电热毯等取暖电器使用管理到位。", category="electrical"),
        _item("EL7", "用电安全", "充电设施", "充电设施符合用电安全要求。", category="electrical", source="规定"),
        _item("GS1", "用气安全", "可燃气体报警装置", "使用燃气的餐饮场所安装可燃气体报警装置并保持正常使用。", category="gas",
              source="安全生产法"),
        _item("GS2", "用气安全", "燃气器具", "软管、阀门、熄火保护装置完好，未擅自改动燃气管道。", category="gas"),
        _item("GS3", "用气安全", "瓶装液化气", "气瓶合法并在检验期内；不在地下、半地下使用存放；空瓶实瓶分开存放。", grade="G/M", category="gas"),
        _item("GS4", "用气安全", "供用气合同", "签订供用气合同，燃气企业定期入户安全检查。", category="gas"),
        _item("GS5", "用气安全", "设施设备经判定不合格", "经住建、消防等部门检查或第三方专业机构评估，电气、燃气等设施设备不符合法律法规和强制性标准。",
              grade="M", criterion="4(二)", category="gas", source="判定标准 4(二)"),
        _item("SE1", "特种设备", "电梯、锅炉、氧气管道", "取得许可生产、经检验合格并在有效期内，非国家明令淘汰或已报废设备。",
              grade="M", criterion="4(四)", category="equipment", source="判定标准 4(四)"),
        _item("SE2", "特种设备", "特种设备作业人员", "特种设备安全管理、检测等人员取得相应资格。", grade="M", criterion="5(三)",
              category="equipment", source="判定标准 5(三)"),
    ]},
}

FOOD = {
    "kind": "hazard.checklist", "name": "food", "version": "2024",
    "title": "养老机构食品安全检查表", "effective_from": "2024-01-01",
    "note": "依据《养老机构重大事故隐患判定标准》第五条（二）及食品安全管理通行要求。",
    "body": {"items": [
        _item("FS1", "许可与人员", "食品经营许可", "内设食堂取得食品经营许可证并在有效期内。", grade="M", criterion="5(二)", category="food",
              source="判定标准 5(二)"),
        _item("FS2", "许可与人员", "从业人员健康", "从业人员持健康证明，有培训记录。", category="food"),
        _item("FS3", "采购与加工", "采购查验", "索证索票、进货查验并建立台账，无来源不明的食材。", category="food"),
        _item("FS4", "采购与加工", "加工操作流程", "按加工操作流程操作，生熟分开。", category="food"),
        _item("FS5", "采购与加工", "贮存", "分类存放、离地离墙，冷藏冷冻温度适当，无过期食品。", category="food"),
        _item("FS6", "采购与加工", "餐具消毒", "餐用具清洗、消毒、保洁到位。", category="food"),
        _item("FS7", "采购与加工", "“三防”设施", "防鼠、防蝇、防尘设施完好。", category="food"),
        _item("FS8", "采购与加工", "留样", "每餐次每个品种留样，按规定冷藏保存并标注。", category="food"),
        _item("FS9", "管理", "食品安全管理员与自查", "配备食品安全管理员，定期开展自查。", category="food"),
        _item("FS10", "管理", "防噎食、防误食", "提供吞咽风险膳食，防止食物与药品混放误食。", category="food", source="GB 38600"),
        _item("FS11", "管理", "视频监控与配送", "重点区域视频监控；配送餐保温、准时、留样。", category="food"),
    ]},
}

BUILDING = {
    "kind": "hazard.checklist", "name": "building", "version": "2024",
    "title": "养老机构房屋建筑安全检查表", "effective_from": "2024-01-01",
    "note": "依据《养老机构重大事故隐患判定标准》第四条（一）（三）及房屋安全管理通行要求。",
    "body": {"items": [
        _item("BS1", "房屋安全", "房屋安全鉴定结论", "建筑设施未被鉴定为C级、D级危房，住建部门未研判存在重大隐患。", grade="M",
              criterion="4(一)", category="building", source="判定标准 4(一)"),
        _item("BS2", "房屋安全", "结构异常", "无裂缝、倾斜、沉降、渗漏、锈蚀；发现异常的已委托安全鉴定。", category="building"),
        _item("BS3", "房屋安全", "违规改造", "未擅自拆改承重墙、加层或改变使用功能。", grade="G/M", category="building"),
        _item("BS4", "房屋安全", "使用年限", "超过设计使用年限（公共建筑超过一半）的已进行鉴定。", category="building"),
        _item("BS5", "房屋安全", "彩钢板与可燃芯材", "未使用易燃可燃材料为芯材的彩钢板搭建有人活动的建筑。", grade="M", criterion="4(三)",
              category="building", source="判定标准 4(三)"),
        _item("BS6", "合法合规", "建筑合法性", "建筑合法，消防验收或备案手续齐全。", grade="G/M", category="building", source="规定"),
        _item("BS7", "合法合规", "老年人居室位置", "老年人居室不在地下，不与电梯井、噪声较大的设备用房贴邻。", grade="G/M", category="building"),
        _item("BS8", "适老与环境", "适老化设施", "扶手、防滑地面、坡道、无障碍通道完好。", category="building"),
        _item("BS9", "适老与环境", "自然灾害防范", "地质灾害、洪涝、风雪荷载等风险已排查。", category="building"),
        _item("BS10", "适老与环境", "施工作业", "施工区域与使用区域分隔，动火作业符合规定。", category="building"),
    ]},
}

SHIPPED = (CRITERIA, FIRE, POWER_GAS, FOOD, BUILDING)


def install(rule_set_model=None) -> int:
    """Add each shipped version that is missing (by kind, name and version); one an
    administrator changed or replaced is left as it is. Returns how many were added."""
    from datetime import date

    if rule_set_model is None:
        from workflow.models import RuleSet as rule_set_model
    added = 0
    for entry in SHIPPED:
        _row, created = rule_set_model.objects.get_or_create(
            kind=entry["kind"], name=entry["name"], version=entry["version"],
            defaults={"title": entry["title"], "effective_from": date.fromisoformat(entry["effective_from"]),
                      "body": entry["body"], "note": entry["note"]})
        added += created
    return added
