"""The packs for texts in other languages: they load, say their language, cover the
categories, and catch realistic texts in that language while passing look-alikes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pytest

from compliance_rules import CATEGORIES, Outcome, RuleSet, check, load_rules, pack_path
from compliance_rules.packs import Rule
from compliance_rules.registry import load_registry

FULL = ("de", "fr", "es", "it", "pt", "ja", "zh", "nl", "pl")  # every category


@dataclass(frozen=True)
class _Pack:
    rules: tuple[Rule, ...]


@cache
def _pack(code: str) -> _Pack:
    """One pack's own rules (the always-loaded safety pack comes with any load)."""
    loaded = load_rules(pack_path(code)).rules
    return _Pack(tuple(r for r in loaded if r.pack.split("@")[0] == code))


@cache
def _everything() -> RuleSet:
    """The English pack with every language's pack, as an installation runs them."""
    return load_rules(pack_path("default"), *(pack_path(code) for code in FULL))


def _categories(text: str) -> set[str]:
    return {f.category for f in check(text, _everything(), timeout=10).findings}


@pytest.mark.parametrize("code", FULL)
def test_each_pack_loads_and_declares_its_language(code: str) -> None:
    rules = _pack(code).rules
    assert rules
    for rule in rules:
        assert rule.language == code, rule.id
        assert rule.pack.startswith(f"{code}@"), rule.pack
        assert rule.id.startswith(f"{code}."), rule.id


@pytest.mark.parametrize("code", FULL)
def test_a_full_pack_covers_every_category(code: str) -> None:
    assert {r.category for r in _pack(code).rules} == set(CATEGORIES)


@pytest.mark.parametrize("code", FULL)
def test_each_rule_has_the_outcome_the_english_pack_gives_its_category(code: str) -> None:
    english: dict[str, set[Outcome]] = {}
    for rule in _pack("default").rules:
        english.setdefault(rule.category, set()).add(rule.outcome)
    for rule in _pack(code).rules:
        assert rule.outcome in english[rule.category], (rule.id, rule.outcome)


@pytest.mark.parametrize("code", FULL)
def test_each_message_explains_in_english_then_in_the_pack_language(code: str) -> None:
    for rule in _pack(code).rules:
        english, _, local = rule.message.partition(" / ")
        assert english.isascii() and english.endswith("."), rule.id
        assert local, rule.id


def test_the_packs_together_keep_their_rule_ids_apart() -> None:
    ids = [r.id for r in _everything().rules]
    assert len(ids) == len(set(ids))


FLAGGED = [
    # German
    (
        "de",
        "Danke Jana! Die Anruferin erzählte, ihre Tochter habe nach der ersten Spritze Neurabel "
        "einen Krampfanfall bekommen",
        "adverse_event_mention",
    ),
    (
        "de",
        "Super Anruf: der Vater hat aus Versehen die doppelte Dosis Somnira genommen und musste "
        "in die Notaufnahme",
        "adverse_event_mention",
    ),
    (
        "de",
        "Danke an Tim für den Rückruf bei Herrn Schneider, 81, Zimmer 214, wegen seines Rezepts",
        "phi_patient_identifier",
    ),
    (
        "de",
        "Das neue Mailing nennt Lipiva das sicherste Cholesterinmedikament überhaupt",
        "superlative_claim",
    ),
    (
        "de",
        "Die Außendienstler sagen jetzt, Glucentra habe keinerlei Nebenwirkungen",
        "safety_minimization",
    ),
    (
        "de",
        "Klasse, wie du den Dermatologen die Skireise für ihre Verordnungen organisiert hast",
        "hcp_inducement",
    ),
    (
        "de",
        "Die Präsentation zeigt Altamune als gefährlichen Müll, starke Arbeit",
        "competitor_disparagement",
    ),
    # French
    (
        "fr",
        "Merci Léa : la patiente a fait une réaction allergique au traitement et a fini "
        "aux urgences",
        "adverse_event_mention",
    ),
    (
        "fr",
        "Bravo pour le rappel de Mme Lefèvre, 74 ans, chambre 8, au sujet de son ordonnance",
        "phi_patient_identifier",
    ),
    (
        "fr",
        "La nouvelle bannière présente Respiclear comme le meilleur inhalateur pour l'asthme",
        "superlative_claim",
    ),
    ("fr", "Le délégué explique aux médecins que Somnira guérit l'insomnie", "cure_guarantee"),
    (
        "fr",
        "Génial, le voyage à Marrakech pour les cardiologues qui prescrivent le plus",
        "hcp_inducement",
    ),
    # Spanish
    (
        "es",
        "Gracias Lucía: el paciente tuvo mareos y vómitos después de tomar Cardivex",
        "adverse_event_mention",
    ),
    (
        "es",
        "Buen trabajo llamando a la Sra. Martínez, de 70 años, habitación 3, por su receta",
        "phi_patient_identifier",
    ),
    (
        "es",
        "El nuevo folleto dice que Immunexa es totalmente seguro para la artritis",
        "safety_minimization",
    ),
    ("es", "Gran idea vender Somnira para niños con insomnio, fuera de ficha técnica", "off_label"),
    (
        "es",
        "Tras el lanzamiento las acciones van a dispararse, compra ya",
        "forward_looking_financial",
    ),
    # Italian
    (
        "it",
        "Grazie Marco: la paziente ha avuto gonfiore e prurito dopo la puntura di Dermalyn",
        "adverse_event_mention",
    ),
    (
        "it",
        "Ottimo lavoro con la sig.ra Esposito, 79 anni, letto 5, per la ricetta",
        "phi_patient_identifier",
    ),
    (
        "it",
        "Il nuovo claim dice che Neurabel funziona su tutti i pazienti",
        "efficacy_overstatement",
    ),
    (
        "it",
        "Lo slogan dice che Lipiva è più efficace di Corvana per il colesterolo",
        "unsubstantiated_comparative",
    ),
    # Portuguese
    (
        "pt",
        "Valeu Ana: a cliente disse que a mãe desmaiou depois de tomar Somnira",
        "adverse_event_mention",
    ),
    (
        "pt",
        "Obrigado por ligar para a paciente Dona Célia, de 72 anos, sobre a receita",
        "phi_patient_identifier",
    ),
    ("pt", "O novo banner diz que Hepavir cura a hepatite para sempre", "cure_guarantee"),
    (
        "pt",
        "Os concorrentes são uns charlatães e o remédio deles é um lixo",
        "competitor_disparagement",
    ),
    # Japanese
    (
        "ja",
        "対応ありがとう。患者さんがグルセントラを飲んだ後に低血糖で救急車を呼んだそうです",
        "adverse_event_mention",
    ),
    (
        "ja",
        "入院中の佐々木様\uff0881歳\uff09の処方の件、ありがとうございました",
        "phi_patient_identifier",
    ),
    ("ja", "新しいパンフレットはリピバを副作用のない薬として紹介しています", "safety_minimization"),
    ("ja", "循環器内科の先生方をゴルフ旅行に招待したおかげで処方が増えた", "hcp_inducement"),
    ("ja", "レスピクリアを小児の喘息に適応外で勧めるトークが好評です", "off_label"),
    # Chinese, Dutch, Polish
    ("zh", "谢谢处理\uff1a患者用了立匹瓦以后肝损伤住院了", "adverse_event_mention"),
    ("zh", "谢谢回电给病人张阿姨\uff0c她的病历号是 20231188", "phi_patient_identifier"),
    (
        "nl",
        "Dank je: de moeder van de beller werd duizelig en viel flauw na het innemen van Somnira",
        "adverse_event_mention",
    ),
    (
        "nl",
        "Goed gedaan met mevrouw Bakker, 77 jaar, BSN 123456782, over haar recept",
        "phi_patient_identifier",
    ),
    (
        "pl",
        "Dzięki: pacjent po zastrzyku Neurabel miał duszności i trafił do szpitala",
        "adverse_event_mention",
    ),
    (
        "pl",
        "Dobra robota z pacjentką panią Wiśniewską, PESEL 49120312345",
        "phi_patient_identifier",
    ),
    ("nl", "De nieuwe folder noemt Lipiva het veiligste cholesterolmedicijn", "superlative_claim"),
    ("nl", "De artsen krijgen een skireis als ze overstappen op Glucentra", "hcp_inducement"),
    (
        "nl",
        "Het middel van de concurrent is gewoon troep, sterke slide",
        "competitor_disparagement",
    ),
    ("pl", "Nowa ulotka mówi, że Immunexa jest całkowicie bezpieczna", "safety_minimization"),
    ("pl", "Po rejestracji kurs akcji poszybuje, kupujcie akcje", "forward_looking_financial"),
    ("zh", "我们跟医生说索姆尼拉可以超说明书给儿童用", "off_label"),
    ("zh", "宣传册说立匹瓦比其他降脂药更有效", "unsubstantiated_comparative"),
]

# Lay words and special situations: no clinical term, still an adverse event to report;
# and people told apart by what is said of them, without a cue word such as "patient".
LAY = [
    ("de", "Seit Opa die neuen Tabletten nimmt, ist er zweimal gestürzt", "adverse_event_mention"),
    ("de", "Meine Schwester stillt und hat Somnira genommen", "adverse_event_mention"),
    (
        "fr",
        "Mon fils a avalé trois comprimés de Somnira trouvés dans le sac",
        "adverse_event_mention",
    ),
    ("es", "Mi madre toma Cardivex y tiene los tobillos hinchados", "adverse_event_mention"),
    ("it", "Mia zia prende Lipiva e ha dolori muscolari fortissimi", "adverse_event_mention"),
    ("pt", "Meu pai toma Hepavir e ficou com os olhos amarelados", "adverse_event_mention"),
    ("ja", "父がリピバを飲み始めてから鼻血が止まらないそうです", "adverse_event_mention"),
    ("zh", "我妈吃了卡迪维以后腿都肿了", "adverse_event_mention"),
    ("nl", "Mijn moeder slikt Cardivex en heeft nu dikke enkels", "adverse_event_mention"),
    ("pl", "Mój mąż bierze Lipiva i ma opuchnięte nogi", "adverse_event_mention"),
    (
        "fr",
        "Mme Odile Marchand, 83 ans, de Tours, voudrait une nouvelle boîte",
        "phi_patient_identifier",
    ),
    ("es", "R.M., 52 años, de Zaragoza, se apuntó al programa el lunes", "phi_patient_identifier"),
    ("it", "Il signor Franco Gallo, 74 anni, di Como, chiede la ricetta", "phi_patient_identifier"),
    ("pt", "O senhor Carlos Nunes, quarto 9, leito A, pediu a bula", "phi_patient_identifier"),
    ("ja", "M.T.さん\uff0858歳、仙台市\uff09から問い合わせがありました", "phi_patient_identifier"),
    ("zh", "陈桂兰\uff0c80岁\uff0c住在南京\uff0c想要大字版说明书", "phi_patient_identifier"),
    (
        "nl",
        "Meneer Bos, kamer 5, bed 1, wil de bijsluiter in grote letters",
        "phi_patient_identifier",
    ),
    (
        "pl",
        "Pani Anna Wójcik, 71 lat, z Opola, dzwoniła w sprawie recepty",
        "phi_patient_identifier",
    ),
]


@pytest.mark.parametrize(("code", "text", "category"), LAY)
def test_lay_words_and_identifiers_without_cue_words_are_caught(
    code: str, text: str, category: str
) -> None:
    assert category in _categories(text), (code, text)


@pytest.mark.parametrize(("code", "text", "category"), FLAGGED)
def test_a_realistic_text_gets_its_category(code: str, text: str, category: str) -> None:
    assert category in _categories(text), (code, text)


@pytest.mark.parametrize(("code", "text", "category"), FLAGGED)
def test_the_finding_comes_from_the_pack_of_the_text_language(
    code: str, text: str, category: str
) -> None:
    packs = {f.pack.split("@")[0] for f in check(text, _everything(), timeout=10).findings}
    assert code in packs or (code in {"zh", "ja"} and packs & {"zh", "ja"}), (text, packs)


COMPLIANT = [
    (
        "de",
        "Danke für die Schulung zur Meldung von Nebenwirkungen, sehr hilfreich für das ganze Team",
    ),
    ("de", "Bestes Team! Danke für den sicheren Prozess bei der Musterausgabe"),
    ("de", "Frau Krüger aus dem Vertrieb hat den Raum 12 für das Kick-off gebucht"),
    ("de", "Die Konkurrenz ist stark, danke für die neutrale Wettbewerbsanalyse"),
    ("fr", "Merci pour la formation sur la déclaration des effets indésirables"),
    ("fr", "Meilleure équipe du trimestre, merci pour la formation produit"),
    ("es", "Gracias por la formación sobre la notificación de reacciones adversas"),
    ("es", "Mejor equipo del año, gracias por el lanzamiento del portal"),
    ("it", "Grazie per la formazione sulla segnalazione delle reazioni avverse"),
    ("it", "Miglior team del trimestre, grazie per il nuovo portale"),
    ("pt", "Obrigado pelo treinamento sobre notificação de eventos adversos"),
    ("pt", "Melhor equipe do ano, obrigado pelo lançamento do portal"),
    ("ja", "副作用報告の研修、とても分かりやすかったです。ありがとうございました"),
    ("ja", "最高のチームです。新しいポータルの公開、お疲れさまでした"),
    ("zh", "谢谢你组织的不良反应上报培训\uff0c很有帮助"),
    ("nl", "Bedankt voor de training over het melden van bijwerkingen"),
    ("pl", "Dzięki za szkolenie ze zgłaszania działań niepożądanych"),
    ("de", "Das Projekt hat leider nichts gebracht, aber wir haben viel gelernt"),
    ("fr", "Je suis en overdose de réunions cette semaine"),
    ("es", "Llámame a mi mesa, extensión 4471"),
    ("it", "La sala 412 è prenotata per giovedì"),
    ("nl", "Ik ben allergisch voor spreadsheets, maar dit rapport is top"),
    ("nl", "Beste team, bedankt voor de lancering"),
    ("pl", "Ten projekt to był niezły ból głowy, ale już skończony"),
    ("pl", "Najlepszy zespół, dzięki za start portalu"),
    ("zh", "这个项目真是让人头疼\uff0c不过终于完成了"),
    ("zh", "最好的团队\uff0c谢谢大家"),
]


@pytest.mark.parametrize(("code", "text"), COMPLIANT)
def test_a_compliant_look_alike_passes(code: str, text: str) -> None:
    result = check(text, _everything(), timeout=10)
    assert result.outcome is Outcome.PASS, (code, result.findings)


def test_product_aliases_in_other_scripts_name_the_product() -> None:
    names = {n for p in load_registry().products for n in p.aliases}
    assert {"ソムニラ", "Сомнира", "Σομνίρα", "索姆尼拉"} <= names
    # No word of the text but the product's Cyrillic name says a medicine is involved.
    assert "adverse_event_mention" in _categories("Сомнира made her dizzy, thanks for logging it")
