"""Work-plan intake (processes/deployment/intake): the parser, the readers and import_workplan."""
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from hypothesis import given, settings as hsettings, strategies as st

from processes.deployment.intake.readers import WorkplanRejected, decode_text, read_docx, read_file
from processes.deployment.intake.workplan import extract_deadlines, extract_targets, make_title, parse
from tests.deployment_helpers import zh

SAMPLES = Path("/work/shared/samples")
ROOT = Path(__file__).resolve().parent.parent


def titles(items):
    return [i.title for i in items]


def check_levels(items, level=1):
    for item in items:
        assert item.level == level
        check_levels(item.children, level + 1)


# ---------------------------------------------------------------- the samples

@pytest.mark.skipif(not (SAMPLES / "hongjiang-2024-plan.txt").exists(), reason="samples not present")
def test_hongjiang_traditional_plan_parses_into_its_tree():
    plan = parse((SAMPLES / "hongjiang-2024-plan.txt").read_text(encoding="utf-8"))
    assert plan.year == 2024
    assert titles(plan.items) == [
        "強化政治忠誠,努力打造民政事業發展新引擎", "強化服務提升,奮力打開民政事業發展新局面",
        "強化兜底保障,努力培育民政事業發展新優勢", "強化基層基礎,努力激發民政事業發展新動能",
        "強化人民至上,努力筑牢民政安全新底線"]
    assert [i.number for i in plan.items] == ["一、", "二、", "三、", "四、", "五、"]
    assert [len(i.children) for i in plan.items] == [4, 5, 2, 3, 4]
    first = plan.items[0].children[0]
    assert (first.number, first.title, first.level) == ("(一)", "全面加強黨的領導", 2)
    assert first.text.startswith("全面加強黨的領導。堅決扛起")
    elderly = plan.items[1].children[2]
    assert (elderly.number, elderly.title) == ("(七)", "全面推進養老服務高質量發展")
    assert titles(elderly.children) == ["打造養老服務“康養之都”", "優化完善養老服務體系", "推動開創老齡工作新局面"]
    assert all(c.level == 3 and c.number in ("1.", "2.", "3.") for c in elderly.children)
    # (十五)…(十八) continue the (一) numbering under 五、, and (六) carries its measurable targets.
    assert [c.number for c in plan.items[4].children] == ["(十五)", "(十六)", "(十七)", "(十八)"]
    targets = [t["text"] for t in plan.items[1].children[1].targets]
    assert "5個" in targets and "220戶" in targets
    assert [t["value"] for t in plan.items[4].children[0].targets if t["kind"] == "percent"] == [100] * 6
    # Web-page debris is dropped; the preamble and the signature are kept apart from the items.
    assert plan.preamble.startswith("2024年是實施“十四五”規劃的關鍵之年")
    assert "發布時間" not in plan.preamble and all("發布時間" not in i.text for i in plan.walk())
    assert plan.closing == "洪江市民政局\n2024年4月11日"
    check_levels(plan.items)
    assert sum(1 for _ in plan.walk()) == 5 + 18 + (3 + 5 + 4) + (3 + 3) + (3 + 3 + 5)


@pytest.mark.skipif(not (SAMPLES / "qinghai-measures.txt").exists(), reason="samples not present")
def test_qinghai_measures_parse_into_eleven_sections_of_31_measures():
    plan = parse((SAMPLES / "qinghai-measures.txt").read_text(encoding="utf-8"))
    assert len(plan.items) == 11
    assert plan.items[0].title == "强化民政工作政治属性"
    assert plan.items[3].title == "立足改革创新,积极推进“智慧民政、阳光民政、服务民政、幸福民政”建设"
    assert plan.items[10].number == "十一、"
    measures = [c for i in plan.items for c in i.children]
    assert [c.number for c in measures] == [f"{n}、" for n in range(1, 32)]
    assert all(c.level == 2 and not c.children for c in measures)
    assert measures[0].title == "切实增强学习贯彻《指导意见》的政治自觉、思想自觉和行动自觉"
    assert plan.preamble.startswith("为认真学习贯彻省委、省政府") and plan.preamble.endswith("现提出如下措施。")
    elderly = measures[17]
    assert elderly.title == "大力发展养老服务,切实满足人民群众多元化多层次服务需求"
    assert elderly.deadline == {"kind": "date", "date": "2022-12-31", "text": "到2022年底"}
    assert {"kind": "percent", "value": 100, "text": "达到100%", "qualifier": "达到"} in elderly.targets
    funding = measures[23]
    assert [t["text"] for t in funding.targets] == ["不低于10%", "30%", "55%以上"]
    assert all(len(i.title) <= 45 for i in plan.walk())


# ---------------------------------------------------------------- the parser on its own

def test_a_plan_that_starts_at_arabic_numbers_has_them_as_top_level():
    plan = parse("1．加强领导。要求一。\n（1）细化分工。\n（2）压实责任。\n2、强化保障。\n①资金保障。\n(1)人员保障。")
    assert [i.number for i in plan.items] == ["1．", "2、"]
    assert [c.number for c in plan.items[0].children] == ["（1）", "（2）"]
    # ① first appeared below （1）, so a later (1) closes ① and is its sibling; both sit one level below 2、
    assert [c.number for c in plan.items[1].children] == ["①", "(1)"]
    assert titles(plan.items[1].children) == ["资金保障", "人员保障"]
    check_levels(plan.items)


def test_mixed_widths_and_skipped_numbers():
    plan = parse("一、总体要求\n(一)目标。到2025年底前完成。\n（三）任务。\n２．细项。\n5.另一项。\n三、保障措施\n（四）落实。")
    assert [i.number for i in plan.items] == ["一、", "三、"]
    assert [c.number for c in plan.items[0].children] == ["(一)", "（三）"]
    assert [c.number for c in plan.items[0].children[1].children] == ["２．", "5."]
    assert plan.items[0].children[0].deadline["date"] == "2025-12-31"


def test_inline_enumeration_inside_a_paren_item():
    text = "一、重点任务\n（一）加强队伍建设。一是强化培训，每季度开展1次；二是完善考核；三是健全激励机制。\n（二）其他。"
    plan = parse(text)
    first = plan.items[0].children[0]
    assert [c.number for c in first.children] == ["一是", "二是", "三是"]
    assert titles(first.children) == ["强化培训，每季度开展1次", "完善考核", "健全激励机制"]
    assert all(c.level == 3 for c in first.children)
    assert first.children[0].deadline == {"kind": "cadence", "every": "quarter", "text": "每季度"}
    assert first.text.endswith("三是健全激励机制。")  # the parent keeps its full text
    plan = parse("一、要求\n（一）做好三件事。第一，摸清底数；第二，建立台账；第三，动态更新。")
    assert titles(plan.items[0].children[0].children) == ["摸清底数", "建立台账", "动态更新"]


def test_sections_without_numbers_preamble_and_debris():
    text = ("发布时间：2025-03-01 来源：某县民政局\n某县民政局2025年工作要点\n为做好今年工作，制定本要点。\n"
            "重点任务\n1.做好低保。年内完成复核。\n2.做好养老。\n保障措施\n1.加强组织领导。\n打印本页 关闭窗口\n")
    plan = parse(text)
    assert plan.preamble == "某县民政局2025年工作要点\n为做好今年工作，制定本要点。"
    assert plan.year == 2025
    assert titles(plan.items) == ["重点任务", "保障措施"]
    assert [i.number for i in plan.items] == ["", ""]
    assert titles(plan.items[0].children) == ["做好低保", "做好养老"]
    assert plan.items[0].children[0].deadline == {"kind": "date", "date": "2025-12-31", "text": "年内"}
    assert all("打印" not in i.text for i in plan.walk())
    check_levels(plan.items)


def test_titles_drop_annotations_and_cut_at_a_clause():
    assert make_title("（一）踔(chuō)厉奋发[1]，勇毅前行①。正文") == "（一）踔厉奋发，勇毅前行"
    assert make_title("深化改革²创新。") == "深化改革创新"
    long = "坚持以人民为中心的发展思想，着力解决好人民群众特别是困难群众最现实、最关心、最直接的利益问题，持续用力"
    title = make_title(long)
    assert len(title) <= 40 and long.startswith(title) and title[-1] not in "，、"
    assert make_title("落实《关于进一步加强和改进新时代社会组织管理、规范社会组织行为、促进健康发展的意见》要求") \
        .startswith("落实《关于进一步加强和改进新时代社会组织管理、规范社会组织行为")


def test_deadlines_and_targets():
    found = extract_deadlines("2025年6月底前完成；到2026年底全覆盖；3个月内整改；每月报送；年底前验收。", 2025)
    assert [(d["kind"], d.get("date"), d["text"]) for d in found] == [
        ("date", "2025-06-30", "2025年6月底前"), ("date", "2026-12-31", "到2026年底"),
        ("relative", None, "3个月内"), ("cadence", None, "每月"), ("date", "2025-12-31", "年底前")]
    assert found[2]["months"] == 3
    assert extract_deadlines("年内完成", None) == [{"kind": "this-year", "date": None, "text": "年内"}]
    targets = extract_targets("覆盖率达到95%以上，新建5个助餐点，改造220户，培训3000人，投入500万元，10家机构。")
    assert [(t["kind"], t["value"]) for t in targets] == [
        ("percent", 95), ("count", 5), ("count", 220), ("count", 3000), ("money", 5_000_000), ("count", 10)]
    assert extract_targets("2024年4月") == []


def test_empty_and_unstructured_documents_import_as_one_item_with_a_note():
    with translation.override("en"):
        empty = parse("  \n\n")
        flat = parse("今年要把民政工作做好。各单位认真落实。")
    assert len(empty.items) == 1 and empty.items[0].text == "" and "empty" in empty.notes[0]
    assert len(flat.items) == 1 and flat.items[0].text == "今年要把民政工作做好。各单位认真落实。"
    assert flat.items[0].title == "今年要把民政工作做好" and "one item" in flat.notes[0]
    inline = parse("今年重点做好三件事：一是摸清底数；二是建立台账；三是动态更新。")
    assert len(inline.items) == 1 and titles(inline.items[0].children) == ["摸清底数", "建立台账", "动态更新"]


def test_a_hundred_page_plan_parses_into_its_sections():
    # (its speed against a tenth of it is a figure of `bench --suite deployment`)
    from tools.bench.deployment import long_plan

    text = long_plan(3)  # about 100 pages of 700 characters
    assert len(text) > 70_000
    plan = parse(text)
    assert len(plan.items) == 30
    assert [len(item.children) for item in plan.items] == [10] * 30
    assert all(sum(c.title.startswith("细化任务") for c in child.children) == 5
               for item in plan.items for child in item.children)


# ---------------------------------------------------------------- properties

CJK = st.text(alphabet="民政工作服务加强推进落实养老救助体系建设社会组织", min_size=1, max_size=30)
WIDTHS = {
    "cn": lambda n: st.sampled_from([f"{_cn(n)}、", f"{_cn(n)}．"]),
    "pcn": lambda n: st.sampled_from([f"({_cn(n)})", f"（{_cn(n)}）", f"（{_cn(n)})"]),
    "num": lambda n: st.sampled_from([f"{n}.", f"{n}、", f"{n}．", _full(n) + "．"]),
    "pnum": lambda n: st.sampled_from([f"({n})", f"（{n}）", f"（{_full(n)}）"]),
}


def _cn(n):
    digits = "零一二三四五六七八九"
    return digits[n] if n < 10 else ("十" + (digits[n - 10] if n > 10 else "") if n < 20 else str(n))


def _full(n):
    return "".join(chr(ord(c) + 0xFEE0) for c in str(n))


@st.composite
def documents(draw):
    order = draw(st.permutations(list(WIDTHS)))
    depth = draw(st.integers(1, len(order)))
    styles = order[:depth]
    lines, bodies, expected_top = [], [], 0
    preamble = draw(st.lists(CJK.map(lambda s: s + "。"), max_size=2))
    debris = draw(st.lists(st.sampled_from(["发布时间：2024-01-02 信息来源：民政局", "责任编辑：张三", "打印本页", "关闭窗口"]),
                           max_size=3))
    lines += debris[:1] + preamble
    bodies += preamble

    sections = draw(st.booleans())  # short unnumbered lines that head each top-level group

    def emit(level):
        nonlocal expected_top
        count = draw(st.integers(1, 3))
        number = 0
        for _ in range(count):
            if sections and level == 0:
                title = draw(st.text(alphabet="民政工作服务加强推进落实养老救助", min_size=2, max_size=12))
                lines.append(title)
                bodies.append(title)
                expected_top += 1
            number += draw(st.integers(1, 2))  # a sequence may skip
            prefix = draw(WIDTHS[styles[level]](number))
            note = draw(st.sampled_from(["", "踔(chuō)厉", "奋发[1]", "勇毅²", "前行（qián xíng）"]))
            body = draw(CJK) + note + "。" + draw(CJK) + draw(st.sampled_from(["。", "；", ""]))
            inline = draw(st.booleans())
            if inline:
                body += "。一是" + draw(CJK) + "；二是" + draw(CJK) + "。"
            lines.append(prefix + body)
            bodies.append(body)
            if level == 0 and not sections:
                expected_top += 1
            if level + 1 < len(styles) and draw(st.booleans()):
                emit(level + 1)

    emit(0)
    lines += debris[1:]
    return "\n".join(lines), bodies, expected_top


@given(documents())
@hsettings(max_examples=150, deadline=None)
def test_the_tree_never_loses_text_and_levels_are_consistent(doc):
    text, bodies, expected_top = doc
    plan = parse(text)
    check_levels(plan.items)
    assert len(plan.items) == expected_top
    texts = [i.text for i in plan.walk()] + [plan.preamble]
    for body in bodies:
        assert any(body in t for t in texts), body
    for item in plan.walk():
        assert "发布时间" not in item.text and "关闭窗口" not in item.text
        assert len(item.title) <= 45
        assert not re.search(r"[a-zāáǎà\[\]²]", item.title), item.title  # no pinyin or footnote marks
        inline = [c for c in item.children if c.number.endswith("是")]
        assert [c.number for c in inline] in ([], ["一是", "二是"])


# ---------------------------------------------------------------- readers

def test_text_files_in_the_encodings_bureaus_use():
    text = "一、总体要求\n（一）加强领导。"
    assert decode_text(text.encode("gbk")) == text
    assert decode_text(text.encode("gb18030")) == text
    assert decode_text(text.encode("utf-16")) == text  # with BOM
    assert decode_text(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert decode_text(text.encode("utf-8")) == text
    with translation.override("zh-hans"), pytest.raises(WorkplanRejected) as refused:
        decode_text(b"abc\x80\xff\x00\x01")
    assert refused.value.message == zh(
        "The text file's encoding could not be recognised. Save it as UTF-8 or GBK and try again.")


def _docx_bytes(paragraphs=(), numbered=()):
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if numbered:
        numbering = document.part.numbering_part.element
        w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
        numbering.append(parse_xml(
            f'<w:abstractNum {w} w:abstractNumId="90">'
            '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>'
            '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/></w:lvl>'
            '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%3."/></w:lvl>'
            '</w:abstractNum>'))
        numbering.append(parse_xml(f'<w:num {w} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))
        for level, text in numbered:
            paragraph = document.add_paragraph(text)
            paragraph._p.get_or_add_pPr().append(parse_xml(
                f'<w:numPr {w}><w:ilvl w:val="{level}"/><w:numId w:val="90"/></w:numPr>'))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_with_typed_and_automatic_numbering():
    data = _docx_bytes(["某局2025年工作要点", "一、加强党建", "（一）理论学习。每月1次。"])
    plan = parse(read_file("plan.docx", data))
    assert titles(plan.items) == ["加强党建"] and titles(plan.items[0].children) == ["理论学习"]
    data = _docx_bytes(["为做好工作，制定本方案。"], numbered=[(0, "加强党建"), (1, "理论学习。每月1次。"),
                                                                (2, "集中学习。"), (2, "专题研讨。"), (1, "组织建设。"),
                                                                (0, "强化服务"), (1, "养老服务。新建5个助餐点。")])
    text = read_docx(data)
    assert "一、加强党建" in text and "（二）组织建设。" in text and "2.专题研讨。" in text and "二、强化服务" in text
    plan = parse(text)
    assert plan.preamble == "为做好工作，制定本方案。"
    assert [i.number for i in plan.items] == ["一、", "二、"]
    assert [c.number for c in plan.items[0].children] == ["（一）", "（二）"]
    assert [c.number for c in plan.items[0].children[0].children] == ["1.", "2."]
    assert plan.items[1].children[0].targets[0]["text"] == "5个"


def _zip(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _refused(name, data):
    with translation.override("zh-hans"), pytest.raises(WorkplanRejected) as refused:
        read_file(name, data)
    return refused.value.message


def test_hostile_and_corrupt_docx_are_refused(settings):
    good = _docx_bytes(["一、加强党建"])
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        parts = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    assert _refused("plan.docx", b"this is not a zip") == zh("The file is not a Word (.docx) document.")
    bomb = _zip({**parts, "word/media/padding.xml": b"\0" * (8 * 1024 * 1024)})
    assert _refused("plan.docx", bomb) == zh(
        "The office document is compressed suspiciously tightly (a zip bomb) and was refused.")
    macro = _zip({**parts, "word/vbaProject.bin": b"\xd0\xcf\x11\xe0macro"})
    assert _refused("plan.docx", macro) == zh("The office document contains macros and was refused.")
    macro = _zip({**parts, "word/vbaData.xml": b"<wne:vbaSuppData/>"})
    assert _refused("plan.docx", macro) == zh("The Word document contains macros or embedded programs and was refused.")
    types = parts["[Content_Types].xml"].replace(
        b"wordprocessingml.document.main+xml", b"ms-word.document.macroEnabled.main+xml")
    assert _refused("plan.docx", _zip({**parts, "[Content_Types].xml": types})) == zh(
        "The Word document contains macros or embedded programs and was refused.")
    settings.EVIDENCE_MAX_UNZIPPED_BYTES = 1024 * 1024
    assert "MB" in _refused("plan.docx", bomb)  # the evidence checks' total unzipped size
    settings.EVIDENCE_MAX_ZIP_ENTRIES = 3
    assert _refused("plan.docx", good)  # too many parts
    settings.WORKPLAN_MAX_BYTES = 100
    assert _refused("plan.docx", good).startswith(zh("The file is larger than %(limit)s and was refused.")[:4])
    assert _refused("plan.pdf", b"%PDF-1.4") == zh("Only .txt and .docx files can be imported as a work plan.")


# ---------------------------------------------------------------- the command

def test_import_workplan_json_shape(tmp_path):
    path = tmp_path / "plan.txt"
    path.write_bytes("某局2025年工作要点\n一、加强党建\n（一）理论学习。年内完成，覆盖100%。\n二、强化服务".encode("gbk"))
    out = io.StringIO()
    call_command("import_workplan", str(path), "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert set(data) >= {"items"}
    item = data["items"][0]
    assert set(item) == {"level", "number", "title", "text", "deadline", "targets", "children"}
    assert (item["level"], item["number"], item["title"]) == (1, "一、", "加强党建")
    child = item["children"][0]
    assert child["deadline"] == {"kind": "date", "date": "2025-12-31", "text": "年内"}
    assert child["targets"] == [{"kind": "percent", "value": 100, "text": "100%"}]
    out = io.StringIO()
    call_command("import_workplan", str(path), "--year", "2026", stdout=out)
    assert "一、 加强党建\n  （一） 理论学习  [年内；100%]" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("import_workplan", str(tmp_path / "missing.docx"))


def test_a_refused_file_exits_non_zero_with_the_chinese_message(tmp_path):
    path = tmp_path / "plan.docx"
    path.write_bytes(b"not a zip at all")
    done = subprocess.run([sys.executable, "manage.py", "import_workplan", str(path), "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and done.stdout == ""
    assert zh("The file is not a Word (.docx) document.") in done.stderr


def test_other_bureaus_layouts():
    # A title block of two lines, parts 第一部分, ⑴ and 1） numbering, and a closing with 抄送.
    text = ("某县民政局\n2025年养老服务工作实施方案\n各乡镇：\n第一部分 总体要求\n1）资金来源：县财政。\n"
            "第二部分 重点任务\n1）建设站点。\n⑴新建3个。\n⑵改造20户。\n2）完善制度。\n"
            "某县民政局\n2025年3月1日\n（此件公开发布）\n抄送：县委办。\n")
    plan = parse(text)
    assert plan.preamble == "某县民政局\n2025年养老服务工作实施方案\n各乡镇："
    assert [(i.number, i.title) for i in plan.items] == [("第一部分", "总体要求"), ("第二部分", "重点任务")]
    assert plan.items[0].children[0].text == "资金来源：县财政。"  # not mistaken for a page's 来源
    build = plan.items[1].children[0]
    assert [c.number for c in build.children] == ["⑴", "⑵"]
    assert build.children[1].targets[0]["text"] == "20户"
    assert plan.closing.splitlines() == ["某县民政局", "2025年3月1日", "（此件公开发布）", "抄送：县委办。"]
    assert plan.year == 2025


def test_text_pasted_from_a_pdf_is_unwrapped():
    paragraph = ("全面加强党的领导。坚决扛起管党治党政治责任，积极组织干部职工深入学习，进一步提高政治判断力、"
                 "政治领悟力、政治执行力，自觉做到两个维护，确保各项任务落到实处，年内完成全部学习任务。")
    wrapped = ["一、总体要求", "（一）" + paragraph[:25]] + [paragraph[k:k + 28] for k in range(25, len(paragraph), 28)]
    wrapped += ["（二）强化服务保障", "二、保障措施", "（一）加强组织领导。"]
    plan = parse("\n".join(wrapped), year=2025)
    first = plan.items[0].children[0]
    assert first.text == paragraph and first.title == "全面加强党的领导"
    assert titles(plan.items[0].children) == ["全面加强党的领导", "强化服务保障"]
    assert first.deadline["date"] == "2025-12-31"
    assert len(plan.items) == 2


def test_more_deadline_forms_and_colon_titles():
    found = extract_deadlines("2025年年底前建成；6月底前摸底；上半年完成评估；于2025年9月30日完成验收。", 2025)
    assert [(d.get("date"), d["text"]) for d in found] == [
        ("2025-12-31", "2025年年底前"), ("2025-06-30", "6月底前"), ("2025-06-30", "上半年"),
        ("2025-09-30", "于2025年9月30日")]
    assert make_title("（一）加强组织领导：成立工作专班，统筹推进。") == "（一）加强组织领导"
    assert make_title("一体：围绕中心城区。") == "一体：围绕中心城区"


def test_list_styles_and_multilevel_decimal_numbering():
    import docx

    document = docx.Document()
    document.add_paragraph("重点任务")
    document.add_paragraph("做好低保。", style="List Number")
    document.add_paragraph("逐户复核。", style="List Number 2")
    document.add_paragraph("做好养老。", style="List Number")
    buffer = io.BytesIO()
    document.save(buffer)
    plan = parse(read_docx(buffer.getvalue()))
    assert titles(plan.items) == ["重点任务"]
    assert titles(plan.items[0].children) == ["做好低保", "做好养老"]
    assert titles(plan.items[0].children[0].children) == ["逐户复核"]
    plan = parse("1 总体要求\n1.1 指导思想。\n1.2 目标。新增1.5万户。\n2 主要任务\n2.1 任务一。\n2.1.1 细化。")
    assert titles(plan.items) == ["1 总体要求", "2 主要任务"]
    assert [c.number for c in plan.items[0].children] == ["1.1", "1.2"]
    assert plan.items[0].children[1].targets[0]["value"] == 15000
    assert plan.items[1].children[0].children[0].number == "2.1.1"


def test_external_relationships_are_not_fetched(monkeypatch):
    import socket

    good = _docx_bytes(["一、加强党建", "（一）理论学习。"])
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        parts = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    rels = parts["word/_rels/document.xml.rels"].replace(b"</Relationships>", (
        b'<Relationship Id="rIdX" TargetMode="External" Target="http://198.51.100.7/track.png" '
        b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"/></Relationships>'))

    def no_network(*args, **kwargs):
        raise AssertionError("a .docx import tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    plan = parse(read_file("plan.docx", _zip({**parts, "word/_rels/document.xml.rels": rels})))
    assert titles(plan.items[0].children) == ["理论学习"]


def test_the_command_refuses_an_oversize_file_before_reading_it(tmp_path, settings):
    settings.WORKPLAN_MAX_BYTES = 10
    path = tmp_path / "plan.txt"
    path.write_text("一、加强党建。" * 10, encoding="utf-8")
    with translation.override("zh-hans"), pytest.raises(CommandError) as refused:
        call_command("import_workplan", str(path))
    assert str(refused.value).startswith(zh("The file is larger than %(limit)s and was refused.")[:4])


WEB_NOTICE = """当前位置：首页 > 政务公开 > 通知公告
关于印发《某县2025年民政重点工作任务》的通知
来源：县民政局  发布时间：2025-02-10  浏览次数：125
【字体：大 中 小】
某民发〔2025〕3号
各乡镇人民政府，县直有关单位：
各乡镇人民政府，县直有关单位：
　　现将《某县2025年民政重点工作任务》印发给你们，请认真贯彻落实。
　　一、指导思想
　　坚持以习近平新时代中国特色社会主义思想为指导，深入贯彻党的二十大精神。
　　二、工作目标
　　到2025年底，全县特困人员集中供养率达到60%以上，新建村级互助养老服务点15个。
　　三、主要任务
　　（一）兜牢民生底线。一是完善低保动态管理，每季度开展一次排查；二是加强临时救助，3个月内办结；三是推进“物质+服务”救助。
　　1.健全监测预警机制。6月底前完成系统对接。
　　2.规范救助资金管理。
　　（1）专项检查。覆盖率100%。
　　（2）审计整改。
　　（二）发展养老服务。
　　四、保障措施
　　（一）加强组织领导。各乡镇要成立工作专班。
　　（二）强化督查考核。县民政局每月通报进展。
　　附件：1．任务分解表
　　　　　2．联系人名单
某县民政局
2025年2月8日
（此件公开发布）
打印本页 关闭窗口
"""


def test_a_notice_pasted_from_a_web_page():
    plan = parse(WEB_NOTICE)
    assert plan.year == 2025
    assert plan.preamble.splitlines()[0] == "关于印发《某县2025年民政重点工作任务》的通知"
    assert "浏览次数" not in plan.preamble and "当前位置" not in plan.preamble
    assert titles(plan.items) == ["指导思想", "工作目标", "主要任务", "保障措施"]
    goal = plan.items[1]
    assert goal.deadline == {"kind": "date", "date": "2025-12-31", "text": "到2025年底"}
    assert [t["text"] for t in goal.targets] == ["达到60%以上", "15个"]
    relief = plan.items[2].children[0]
    assert [c.number for c in relief.children] == ["一是", "二是", "三是", "1.", "2."]
    assert relief.children[1].deadline["months"] == 3 and relief.children[1].targets == []
    assert relief.children[3].deadline == {"kind": "date", "date": "2025-06-30", "text": "6月底前"}
    assert [c.number for c in relief.children[4].children] == ["（1）", "（2）"]
    assert plan.closing.splitlines() == ["附件：1．任务分解表", "2．联系人名单", "某县民政局", "2025年2月8日", "（此件公开发布）"]
    check_levels(plan.items)


def test_document_titles_ending_in_task_or_decisions_stay_in_the_preamble_and_month_day_deadlines_are_read():
    plan = parse("某局2026年第三次局长办公会议定事项\n\n一、由办公室牵头，12月20日前完成清理。\n二、其他事项。", year=2026)
    assert plan.preamble == "某局2026年第三次局长办公会议定事项"
    assert [item.number for item in plan.items] == ["一、", "二、"]
    assert plan.items[0].deadline["date"] == "2026-12-20"
    assert parse("一、2月30日前完成。", year=2026).items[0].deadline is None  # no such day


# ---------------------------------------------------------------- encodings, Chinese numerals, other layouts

SIMPLIFIED = "一、加强组织领导推进养老服务体系建设完善社会救助制度落实工作责任各县市区民政局要在年底前完成的是和了"
TRADITIONAL = "一、加強組織領導推進養老服務體系建設完善社會救助制度落實工作責任各縣市區民政局要在年底前完成的是和了"
PLAIN = "（）。，；：、\n 0123456789%"


def test_big5_gbk_and_utf16_without_a_bom_decode_as_written():
    simplified = "一、总体要求\n（一）加强组织领导。各县（市、区）民政局要在2025年10月底前完成。"
    traditional = "一、總體要求\n（一）加強組織領導。各縣（市、區）民政局要在2025年10月底前完成，確保落實。"
    assert decode_text(traditional.encode("big5")) == traditional
    assert decode_text(traditional.encode("cp950")) == traditional
    assert decode_text(traditional.encode("big5hkscs")) == traditional
    assert decode_text(simplified.encode("gbk")) == simplified
    assert decode_text(traditional.encode("gb18030")) == traditional  # traditional characters saved as GBK
    for encoding in ("utf-16-le", "utf-16-be"):
        assert decode_text(simplified.encode(encoding)) == simplified
        assert decode_text(traditional.encode(encoding)) == traditional
    if (SAMPLES / "hongjiang-2024-plan.txt").exists():
        sample = (SAMPLES / "hongjiang-2024-plan.txt").read_text(encoding="utf-8")
        for encoding in ("big5hkscs", "utf-16-le", "gb18030"):
            try:
                data = sample.encode(encoding)
            except UnicodeEncodeError:
                continue
            assert decode_text(data) == sample
    assert read_file("plan.txt", traditional.encode("big5")) == traditional


def test_an_undecidable_encoding_is_refused_in_chinese():
    with translation.override("zh-hans"), pytest.raises(WorkplanRejected) as refused:
        decode_text("組".encode("gbk"))  # one character that reads as a common one both in GBK and in Big5
    assert refused.value.message == zh(
        "The text file's encoding could not be decided: it reads as Chinese in more than one encoding "
        "(UTF-8, GBK, Big5). Save it as UTF-8 with a BOM and try again.")


@hsettings(max_examples=300, deadline=None)
@given(st.text(alphabet=SIMPLIFIED + PLAIN, min_size=1, max_size=80),
       st.text(alphabet=TRADITIONAL + PLAIN, min_size=1, max_size=80),
       st.sampled_from(["gb18030", "gbk", "big5", "cp950", "utf-16", "utf-16-le", "utf-16-be", "utf-8"]))
def test_a_text_file_decodes_as_written_or_is_refused_never_garbled(simplified, traditional, encoding):
    for text in (simplified, traditional):
        if encoding in ("utf-16-le", "utf-16-be"):
            text += "\n"  # UTF-16 without a BOM is known by the zero byte of its ASCII characters
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:
            continue
        try:
            decoded = decode_text(data)
        except WorkplanRejected:
            continue
        assert decoded == text


@hsettings(max_examples=100, deadline=None)
@given(st.text(alphabet=SIMPLIFIED + PLAIN, min_size=30, max_size=200).filter(
    lambda t: sum(ch in SIMPLIFIED for ch in t) >= 20))
def test_a_plan_of_some_length_in_gbk_is_never_refused(text):
    assert decode_text(text.encode("gbk")) == text


@hsettings(max_examples=100, deadline=None)
@given(st.text(alphabet=TRADITIONAL + PLAIN, min_size=30, max_size=200).filter(
    lambda t: sum(ch in TRADITIONAL for ch in t) >= 20))
def test_a_plan_of_some_length_in_big5_is_never_refused(text):
    assert decode_text(text.encode("big5")) == text


@pytest.mark.parametrize("text, year, expected", [
    ("三个月内完成整改", 2025, ("relative", None, "三个月内", {"months": 3})),
    ("两年内实现全覆盖", 2025, ("relative", None, "两年内", {"years": 2})),
    ("半年内完成", 2025, ("relative", None, "半年内", {"months": 6})),
    ("半个月内报送", 2025, ("relative", None, "半个月内", {"days": 15})),
    ("6个月内", 2025, ("relative", None, "6个月内", {"months": 6})),
    ("十五个工作日内办结", 2025, ("relative", None, "十五个工作日内", {"working_days": 15})),
    ("十二月底前完成", 2025, ("date", "2025-12-31", "十二月底前", {})),
    ("2025年十月底完成", None, ("date", "2025-10-31", "2025年十月底", {})),
    ("二〇二五年十月底前完成", None, ("date", "2025-10-31", "二〇二五年十月底前", {})),
    ("二〇二六年三月三十一日前", None, ("date", "2026-03-31", "二〇二六年三月三十一日前", {})),
    ("十月一日前", 2025, ("date", "2025-10-01", "十月一日前", {})),
    ("6月中旬前", 2025, ("date", "2025-06-20", "6月中旬前", {})),
    ("一季度末前", 2025, ("date", "2025-03-31", "一季度末前", {})),
    ("2026年第三季度完成", None, ("date", "2026-09-30", "2026年第三季度", {})),
    ("下半年启动", 2025, ("date", "2025-12-31", "下半年", {})),
    ("2025年内完成", None, ("date", "2025-12-31", "2025年内", {})),
    ("年底完成验收", 2025, ("date", "2025-12-31", "年底", {})),
])
def test_deadlines_written_with_chinese_numerals(text, year, expected):
    found = extract_deadlines(text, year)
    assert len(found) == 1
    kind, date, written, extra = expected
    assert (found[0]["kind"], found[0].get("date"), found[0]["text"]) == (kind, date, written)
    for key, value in extra.items():
        assert found[0][key] == value


def test_words_with_a_numeral_inside_are_not_dates_and_chinese_numeral_targets():
    assert extract_deadlines("统一月底前上报", 2025) == []  # 统一 is not 一月
    for text in ("落实2025年中央一号文件精神", "贯彻今年中央经济工作会议精神", "全年中小学"):
        assert extract_deadlines(text, 2025) == []  # 年中央, 年中小学: not the middle of the year
    assert [d["date"] for d in extract_deadlines("2025年年中完成，今年年中前评估，2026年下半年验收", 2024)] == [
        "2025-06-30", "2024-06-30", "2026-12-31"]
    assert extract_deadlines("每季度调度一次", 2025)[0]["kind"] == "cadence"
    targets = extract_targets("建成五个示范点，覆盖率达到百分之百，满意度百分之九十五以上，新增床位一千二百张，投入三百万元。")
    assert [(t["kind"], t["value"], t["text"]) for t in targets] == [
        ("count", 5, "五个"), ("percent", 100, "达到百分之百"), ("percent", 95, "百分之九十五以上"),
        ("count", 1200, "一千二百张"), ("money", 3_000_000, "三百万元")]
    assert extract_targets("建立一个工作机制") == []  # 一个: an article, not a target
    assert extract_targets("着力打造“三个生态”，增强四个意识，做好两项补贴") == []  # names, not targets
    assert [t["text"] for t in extract_targets("新建社区综合服务设施十个，培育社会组织五十家")] == ["十个", "五十家"]


@hsettings(max_examples=200, deadline=None)
@given(st.integers(2000, 2099), st.integers(1, 12), st.integers(1, 28), st.sampled_from(["前", "之前", ""]))
def test_a_date_in_chinese_numerals_reads_as_the_same_date_in_arabic(y, m, d, tail):
    from processes.deployment.intake.readers import int_to_cn

    year_cn = "".join("〇一二三四五六七八九"[int(c)] for c in str(y))
    written = f"{year_cn}年{int_to_cn(m)}月{int_to_cn(d)}日{tail}"
    arabic = f"{y}年{m}月{d}日{tail}"
    cn, ar = extract_deadlines(f"要在{written}完成。", None), extract_deadlines(f"要在{arabic}完成。", None)
    assert [x["date"] for x in cn] == [x["date"] for x in ar] == [f"{y:04d}-{m:02d}-{d:02d}"]
    assert cn[0]["text"].endswith(written)


def _outline(items):
    return [(i.number, i.title, _outline(i.children)) for i in items]


def test_a_plan_in_chapters_and_articles_with_enumerations_inside_an_article():
    plan = parse("某市养老服务体系建设实施方案\n为贯彻落实有关文件精神，制定本方案。\n第一章 总则\n"
                 "第一条 为加快建设养老服务体系，制定本方案。\n第二章 主要任务\n"
                 "第二条 发展社区养老服务。各区要在两年内建成社区嵌入式养老服务设施三十个。\n"
                 "第三条 提升机构养老服务质量。（一）推进公办养老机构改革；（二）加强养老机构安全管理。\n"
                 "某市人民政府办公室\n2024年3月15日")
    assert [(i.number, i.title) for i in plan.items] == [("第一章", "总则"), ("第二章", "主要任务")]
    second, third = plan.items[1].children
    assert (second.number, second.deadline["years"], second.targets[0]["value"]) == ("第二条", 2, 30)
    assert _outline(third.children) == [("（一）", "推进公办养老机构改革", []), ("（二）", "加强养老机构安全管理", [])]
    assert plan.closing == "某市人民政府办公室\n2024年3月15日"


def test_paren_numbers_inside_arabic_inside_chinese_and_a_closing_after_contacts_and_attachments():
    plan = parse("2025年民政工作要点\n一、兜牢基本民生底线\n1.完善社会救助体系。三月底前完成核查。\n"
                 "（1）开展低保专项治理。\n（2）加强临时救助。六月底前实现“一门受理”。\n2.加强特困人员供养。\n"
                 "二、工作步骤\n（一）动员部署阶段（2025年3月31日前）。\n（二）排查整治阶段（2025年4月至8月）。\n"
                 "联系人：张三，联系电话：12345678\n附件：1．排查表\n2．联系人回执\n区民政局\n2025年1月20日")
    assert _outline(plan.items) == [
        ("一、", "兜牢基本民生底线", [("1.", "完善社会救助体系", [("（1）", "开展低保专项治理", []), ("（2）", "加强临时救助", [])]),
                                ("2.", "加强特困人员供养", [])]),
        ("二、", "工作步骤", [("（一）", "动员部署阶段", []), ("（二）", "排查整治阶段", [])])]
    assert plan.items[0].children[0].children[1].deadline["date"] == "2025-06-30"
    assert plan.items[1].children[1].deadline["date"] == "2025-08-31"  # the end of 4月至8月
    assert plan.closing.startswith("联系人：张三") and plan.closing.endswith("2025年1月20日")


def test_a_task_table_inside_a_plan_becomes_items_from_text_and_from_word():
    text = ("市民政局2025年工作要点\n一、聚焦民生保障\n1、完善低保制度\n三、重点任务分解\n"
            "序号\t工作任务\t牵头单位\t完成时限\n1\t完善低保制度\t社会救助科\t2025年6月底前\n"
            "2\t做好残疾人两项补贴\t社会事务科\t十二月底前")
    plan = parse(text)
    table = plan.items[-1]
    assert [(i.number, i.title, i.deadline["date"]) for i in table.children] == [
        ("1.", "完善低保制度", "2025-06-30"), ("2.", "做好残疾人两项补贴", "2025-12-31")]
    assert "牵头单位：社会救助科" in table.children[0].text
    assert table.children[1].targets == []  # 两项补贴 is a name, not a target

    import docx

    document = docx.Document()
    document.add_paragraph("2025年养老服务重点任务清单")
    grid = document.add_table(rows=1, cols=4)
    for cell, heading in zip(grid.rows[0].cells, ["序号", "重点任务", "责任单位", "完成时限"]):
        cell.text = heading
    section = grid.add_row().cells
    section[0].merge(section[3]).text = "一、居家养老"
    for values in (("1", "新建老年助餐点十个。确保覆盖全部街道。", "市民政局", "2025年6月底前"),
                   ("2", "实施适老化改造500户", "市民政局", "三季度末")):
        for cell, value in zip(grid.add_row().cells, values):
            cell.text = value
    buffer = io.BytesIO()
    document.save(buffer)
    plan = parse(read_docx(buffer.getvalue()))
    assert [(i.number, i.title) for i in plan.items] == [("一、", "居家养老")]
    first, second = plan.items[0].children
    assert (first.title, first.deadline["date"], first.targets[0]["text"]) == ("新建老年助餐点十个", "2025-06-30", "十个")
    assert (second.title, second.deadline["date"]) == ("实施适老化改造500户", "2025-09-30")


def test_a_plan_with_unnumbered_headings_is_divided_at_them():
    with translation.override("en"):
        plan = parse("某区2025年社区治理工作要点\n2025年，全区社区治理工作以党建引领为主线。\n总体目标\n"
                     "到2025年底，居民满意度达到90%以上。\n重点任务\n加强社区党组织建设。年底前完成换届。\n"
                     "推进社区服务设施建设。新建社区综合服务设施十个。\n保障措施\n加强组织领导。建立工作专班。")
    assert _outline(plan.items) == [
        ("", "总体目标", [("", "到2025年底，居民满意度达到90%以上", [])]),
        ("", "重点任务", [("", "加强社区党组织建设", []), ("", "推进社区服务设施建设", [])]),
        ("", "保障措施", [("", "加强组织领导", [])])]
    assert plan.preamble.startswith("某区2025年社区治理工作要点")
    assert plan.notes and "unnumbered headings" in plan.notes[0]
    # one short line is not enough to divide a text
    assert len(parse("工作目标\n今年要把民政工作做好。各单位认真落实。").items) == 1


def test_a_taiwan_plan_with_formal_numerals_and_years_of_the_republic():
    plan = parse("臺北市政府社會局114年度長期照顧服務推動計畫\n中華民國114年1月15日\n壹、計畫依據\n依據長期照顧服務法辦理。\n"
                 "貳、計畫目標\n一、建構完善長照服務體系，114年12月31日前完成佈建。\n二、提升長照服務涵蓋率達百分之七十以上。\n"
                 "參、執行策略\n一、擴充服務資源\n（一）增設日間照顧中心十處。\n（二）於半年內完成居家服務單位評鑑。\n"
                 "1.辦理評鑑說明會。\n2.民國114年6月底前完成實地評鑑。\n肆、經費來源\n由本局年度預算支應。")
    assert plan.year == 2025
    assert [(i.number, i.title) for i in plan.items] == [
        ("壹、", "計畫依據"), ("貳、", "計畫目標"), ("參、", "執行策略"), ("肆、", "經費來源")]
    goals, strategy = plan.items[1], plan.items[2]
    assert goals.children[0].deadline["date"] == "2025-12-31"
    assert goals.children[1].targets[0]["value"] == 70
    resources = strategy.children[0]
    assert resources.children[0].targets[0]["text"] == "十處"
    assert resources.children[1].deadline["months"] == 6
    assert resources.children[1].children[1].deadline == {
        "kind": "date", "date": "2025-06-30", "text": "民國114年6月底前"}


def test_typed_bullets_are_items_without_a_number():
    plan = parse("2025年工作要点\n一、加强党的建设\n●深入学习贯彻党的二十大精神。\n●加强干部队伍建设。\n"
                 "二、兜牢民生底线\n◆提高低保标准。")
    assert _outline(plan.items) == [
        ("一、", "加强党的建设", [("", "深入学习贯彻党的二十大精神", []), ("", "加强干部队伍建设", [])]),
        ("二、", "兜牢民生底线", [("", "提高低保标准", [])])]


def test_responsibility_and_deadline_notes_after_a_heading_stay_out_of_its_title():
    assert make_title("加强养老机构安全管理（责任单位：市民政局；完成时限：2025年6月底前）") == "加强养老机构安全管理"
    assert make_title("加强养老机构安全管理。（市民政局牵头，各区配合）") == "加强养老机构安全管理"
    assert make_title("推进殡葬改革（市民政局、市发改委按职责分工负责）") == "推进殡葬改革"
    assert make_title("开展“双随机、一公开”检查（2025年6月底前完成）") == "开展“双随机、一公开”检查"
    assert make_title("实施“十四五”规划（2021—2025年）") == "实施“十四五”规划（2021—2025年）"  # a period, not a note
    assert make_title("深化村（居）务公开") == "深化村（居）务公开"
    item = parse("一、重点任务\n1.加强养老机构安全管理（责任单位：市民政局；完成时限：2025年6月底前）").items[0].children[0]
    assert item.deadline["date"] == "2025-06-30" and "责任单位：市民政局" in item.text


def test_a_heading_set_off_from_its_body_by_spaces_is_the_title():
    assert make_title("总体要求\u3000坚持以人民为中心，推进民政事业高质量发展。") == "总体要求"
    assert make_title("加强组织领导  各地要成立领导小组。") == "加强组织领导"
    assert make_title("（一）  加强组织领导") == "（一）  加强组织领导"  # spaces inside the number's brackets


def test_a_plan_framed_in_a_one_cell_word_table_keeps_its_paragraphs():
    import docx

    document = docx.Document()
    document.add_paragraph("2025年工作要点")
    cell = document.add_table(rows=1, cols=1).rows[0].cells[0]
    cell.text = "一、加强党的建设"
    for text in ("（一）加强政治建设。深入学习。", "（二）加强作风建设。", "二、兜牢民生底线", "（一）提高低保标准。"):
        cell.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    plan = parse(read_docx(buffer.getvalue()))
    assert _outline(plan.items) == [
        ("一、", "加强党的建设", [("（一）", "加强政治建设", []), ("（二）", "加强作风建设", [])]),
        ("二、", "兜牢民生底线", [("（一）", "提高低保标准", [])])]


def test_page_numbers_of_a_pasted_pdf_are_dropped():
    plan = parse("2025年全市民政工作要点\n一、加强党的建设\n（一）强化政治引领。\n— 2 —\n（二）加强作风建设。\n-3-\n"
                 "二、兜牢民生底线\n第 4 页 共 5 页\n（一）完善社会救助。\n5/6\n（二）加强养老服务。\n7\n三、保障措施")
    assert _outline(plan.items) == [
        ("一、", "加强党的建设", [("（一）", "强化政治引领", []), ("（二）", "加强作风建设", [])]),
        ("二、", "兜牢民生底线", [("（一）", "完善社会救助", []), ("（二）", "加强养老服务", [])]),
        ("三、", "保障措施", [])]
    assert "2" not in "".join(item.text for item in plan.walk())
