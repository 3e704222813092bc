"""Top terms per strategy field from idea texts: redacted first, then simple tokens without stop words.

A term is shown only when at least k distinct texts contain it, so no term points at one citizen's wording.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from nlp.redact import redact

_PLACEHOLDER = re.compile(r"\[[A-Z]+\]")
_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
MIN_TOKEN_LENGTH = 3

# German first (function words, then the generic words of ideas), then English. Lower case, ß and umlauts as
# written; a word may appear twice (the frozenset keeps one).
_STOP_WORDS = """
aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes anderm andern
anders auch auf aus bei beim bin bis bist bitte da dabei dadurch dafür dagegen daher dahin damals damit danach
dann daran darauf daraus darf darin darum darunter das dass dasselbe dazu dein deine deinem deinen deiner dem
demselben den denen denn dennoch der derer derselbe derselben des deshalb dessen desto dich die dies diese
dieselbe dieselben diesem diesen dieser dieses dir doch dort du durch eben ebenso ein eine einem einen einer
eines einig einige einigem einigen einiger einiges einmal er es etwa etwas euch euer eure eurem euren eurer für
gab gar gegen gewesen gibt ging habe haben hat hatte hätte hatten hätten hier hin hinter ich ihm ihn ihnen ihr
ihre ihrem ihren ihrer ihres im immer in indem ins ist ja jede jedem jeden jeder jedes jedoch jene jenem jenen
jener jenes jetzt kann kannst kein keine keinem keinen keiner keines könnte könnten können man manche manchem
manchen mancher manches mehr mein meine meinem meinen meiner meines mich mir mit muss musste müssen nach nachdem
nein nicht nichts noch nun nur ob oder ohne schon sehr sein seine seinem seinen seiner seines seit selbst sich
sie sind so solche solchem solchen solcher solches soll sollte sollten sondern sonst sowie über um und uns unser
unsere unserem unseren unserer unter viel viele vom von vor wäre wären war waren warum was weil weiter welche
welchem welchen welcher welches wenn wer werde werden wie wieder will wir wird wirklich wo wollen wollte wurde
würde würden zu zum zur zwar zwischen gut gute guten besser ganz gerne gern dies mal immer einfach endlich
about above after again against all also and any are because been before being below between both but can
could did does doing down during each few for from further had has have having her here hers herself him
himself his how into its itself just more most not now off once only other our ours out over own same she
should some such than that the their theirs them then there these they this those through too under until very
was were what when where which while who whom why will with would you your yours the please
außer bereits beide beiden bzw daß denke derzeit deren dessen drin eher eigentlich eines eins endlich erst
etc euch falls finde fände fast ganze ganzen gerade geht gehen gemacht genau gibts gleich halt heute hier
hierfür irgendwie jemand jeweils kaum klar kommen kommt könnte lassen lässt leider machen macht meiner meinung
meist mindestens möchte möchten möglich möglichst nämlich neben neue neuen neuer nie niemand nochmal nötig
oben ohne paar per sehr sei seien seitdem sodass somit statt trotz überall usw vielleicht vielen vieles
völlig vom wann wegen weniger wenig werden wichtig wieso wirklich wohl worden wurden zudem zusammen zwei
idee ideen vorschlag vorschläge vorschlagen bitte danke sollte sollten sollen wäre wären würde gibt geben
gäbe stadt städte wuppertal wuppertaler bürger bürgerinnen leute menschen thema themen etwas sachen sache
man mehr weniger besser schön toll super
also am an as at be by do if in is it me my no of on or so to up us we an a i
able anything etc get got like make many maybe much need needs one really something still think want way
well city idea ideas suggestion suggest better good great lot lots people thing things thanks
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
"""Words that say nothing about an idea's topic: German and English function words, and what citizens write in
almost every idea ("Idee", "Vorschlag", "bitte", "mehr", "sollte", "wäre", "gibt", the city's name …). Hand-written
(no download); words shorter than MIN_TOKEN_LENGTH are dropped anyway, but listed where natural."""


def tokens(text: str) -> set[str]:
    """The distinct lower-case terms of a text after redaction (placeholders, stop words and short words dropped)."""
    clean = _PLACEHOLDER.sub(" ", redact(text))
    words = (word.lower() for word in _TOKEN.findall(clean))
    return {word for word in words if len(word) >= MIN_TOKEN_LENGTH and word not in STOP_WORDS}


@dataclass(frozen=True)
class Term:
    term: str
    texts: int  # distinct texts that contain it


def top_terms(texts: Iterable[str], k: int, limit: int = 10) -> list[Term]:
    """The `limit` terms found in the most texts, each in at least k distinct texts (ties alphabetically)."""
    frequency: Counter[str] = Counter()
    for text in texts:
        frequency.update(tokens(text))
    return rank(frequency, k, limit)


def rank(frequency: Counter[str], k: int, limit: int = 10) -> list[Term]:
    """The `limit` most frequent terms of a term → distinct-texts count, each in at least k texts."""
    ranked = sorted(((n, term) for term, n in frequency.items() if n >= k), key=lambda item: (-item[0], item[1]))
    return [Term(term, n) for n, term in ranked[:limit]]
