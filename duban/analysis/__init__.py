"""Supervision candidates (督办线索): tickets that deserve a case, grouped, each group with the
reason it is proposed.

Modules: `rules` (why a group is proposed, the thresholds), `matters` (the same-matter
relation and grouping), `window` (the tickets a run reads), `index` (the stored index kept
between runs), `kept` (what the process keeps between runs), `candidates` (the groups,
their reasons and evidence, `find_candidates`).

The seed, §三(一)1: "镇城运中心对各类工单进行分析，综合诉求内容、承办单位办理情况、回访市民反馈
情况等方面，确定督办事项"; the rules below follow the scope of §二: 市级督办事项, 重复投诉多次且
办理工作未有明显进展, 多人次集中投诉, and two signals of poor handling (不满意回访, 超期工单).

Addresses are compared by their key (duban.address: the road or estate and its numbers,
without the town's prefixes or the landmark after them), read through the center's aliases
(duban.standard_address: the standard address a key stands for).

Same matter (同一事项). Two tickets are about the same matter when
- their address keys are equal and specific (down to a house, building or group: the key
  holds a digit or one of 号弄幢栋楼室组) and
  - the same phone number called both (同一来电人: a repeat whatever the wording), or
  - their categories are equal and their complaints share at least `keyword_min` key words
    (duban.keywords: what rewordings of one complaint keep, 垃圾 in "垃圾堆放多日无人清理"
    and "垃圾还是没人来收"), or both have no text; or
- their contents are near-identical — the Jaccard similarity of the character bigrams of
  the normalised texts is at least the threshold — and their addresses agree: equal, one
  key containing the other (`和睦家园12幢` ⊂ `和睦家园12幢北区`; a road without a number
  does not contain the houses on it; two distinct standard addresses never), or both
  empty. The same wording at two different places stays two matters; so do 路灯不亮 and
  垃圾堆放 at one gate, and 南崧路100弄 and 南崧路102弄.
A matter is a connected component of that relation.

Scale. Tickets are never compared blindly pair by pair. A node is one wording (address
key, category, text); tickets without text at one specific key and category form one.
Key words are compared only inside one key and category, through an inverted index on
the words; callers are joined by their (key, phone) when a run groups its window. Nested
addresses are found by looking every substring of each address up in the set of addresses;
contents are compared only inside an address or across a nested pair, through an inverted
index on bigram prefixes (AllPairs prefix filtering: two token sets with Jaccard ≥ t share
a token among the first |x| − ⌈t·|x|⌉ + 1 tokens of each, in one global rarest-first
order), and every candidate pair is verified exactly. `bench/bench_candidates.py` measures
it against the all-pairs baseline and checks both give the same matters.

Kept between runs (tables TicketMatchKey, MatterLink, CandidateRun). What a ticket
contributes to the relation is stable: its wording (address, category, normalised text)
and the links between wordings. A run prepares only the tickets that are new or whose
address, category, content, date or 市级督办 flag changed since the last run — found by
`Ticket.version` — and compares them with the tickets they can meet in a window; the rest
is read back. Statuses, callbacks and due dates are read fresh on every run, so a run
gives exactly what a run from nothing would (`rebuild=True`, and automatically when
INDEX_VERSION, the similarity threshold or a longer look-back no longer match).

Kept in the process (`kept`). The page runs the analysis on every visit; the process keeps
the window's tickets, the links and the matters of each rule's subset between runs, checks
them against the database (tickets by id and version, the index by its last CandidateRun)
and regroups only the matters a new, changed or departed ticket can reach: those holding
it, or sharing a wording, a link, a node or a caller with it. Anything it cannot vouch for
(another process updated the index, the settings changed, a run failed or was rolled back)
makes the next run a full one.
"""

from duban.analysis.candidates import (
    REPEAT_RULES,
    Candidates,
    Group,
    data_version,
    find_candidates,
    mark_repeat_group,
)
from duban.analysis.index import IndexRun
from duban.analysis.matters import (
    Link,
    bigrams,
    group_matters,
    is_specific,
    jaccard,
    nested_addresses,
    normalize_text,
    same_matter,
)
from duban.analysis.rules import (
    DONE_STATUSES_KEY,
    SETTING_KEYS,
    Rule,
    Thresholds,
)

__all__ = [
    "DONE_STATUSES_KEY",
    "REPEAT_RULES",
    "SETTING_KEYS",
    "Candidates",
    "Group",
    "IndexRun",
    "Link",
    "Rule",
    "Thresholds",
    "bigrams",
    "data_version",
    "find_candidates",
    "group_matters",
    "is_specific",
    "jaccard",
    "mark_repeat_group",
    "nested_addresses",
    "normalize_text",
    "same_matter",
]
