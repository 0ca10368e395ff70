"""What a label suggestion rests on, in words a curator reads at a glance: how many of the labelled
neighbours voted for each label and how close they stand (closer neighbours weigh far more in the vote, see
`labels.vote`), or, for a zero-shot suggestion, how similar the label's words are to the photos; and which
runners-up are worth offering as a quick pick."""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.core.wording import ordinal

# Runner-up labels below this confidence are shown but not offered as a quick pick (keys 2 and 3). In
# leave-one-out on Magento (category, k=10, calibration cross-fitted) no runner-up shown below 1% was the
# right label: 0 of 134 with 280 of the 468 articles labelled, 0 of 345 with all labelled (1% to 5%: 2 of
# 131 and 1 of 109 right). Those with 5 or more of 10 votes were right 1 of 48 and 0 of 47 times: voters
# far from the article count for little, as the shown confidence says.
PICK_FLOOR = 0.01


@dataclass
class LabelEvidence:
    """One label a suggestion offers: its confidence and what it rests on, the labelled neighbours that
    voted for it or (zero-shot) the similarity of its words to the photos."""

    label: str
    confidence: float
    ranks: tuple[int, ...]  # where its voters stand among the neighbours, 1 = the most similar
    neighbours: int  # neighbours that voted in all
    similarity: float | None = None  # zero-shot: its words' cosine with the photos (no neighbours voted)

    @property
    def offered(self) -> bool:
        """Whether it is offered as a quick pick. PICK_FLOOR was measured on neighbours' votes; zero-shot
        labels are the curator's own names with confidences of another kind, so none is held back."""
        return self.similarity is not None or self.confidence >= PICK_FLOOR

    def short(self) -> str:
        """The evidence in a few characters beside the confidence: "2/10" votes, or "sim 0.27"."""
        if self.similarity is not None:
            return f"sim {self.similarity:.2f}"
        return f"{self.votes}/{self.neighbours}"

    @property
    def votes(self) -> int:
        return len(self.ranks)

    @property
    def leads(self) -> bool:
        """Whether its voters are the most similar neighbours of all (ranks 1 to votes)."""
        return self.votes > 0 and self.ranks == tuple(range(1, self.votes + 1))

    def describe(self) -> str:
        """The votes in words a curator reads at a glance: "2 of 10 neighbours (the 2 closest)", "5 of 10
        neighbours (the closest of them 3rd)". Closer neighbours weigh far more, so where the voters stand
        says as much as how many they are. Zero-shot: "zero-shot, similarity 0.27 of its words to the
        photos"."""
        if self.similarity is not None:
            return f"zero-shot, similarity {self.similarity:.2f} of its words to the photos"
        if not self.ranks:
            return f"none of {self.neighbours} neighbours"
        if self.votes == self.neighbours:
            return "all 1 neighbour" if self.votes == 1 else f"all {self.votes} neighbours"
        head = f"{self.votes} of {self.neighbours} neighbours"
        if self.leads:
            return f"{head} (the closest)" if self.votes == 1 else f"{head} (the {self.votes} closest)"
        if self.votes == 1:
            return f"{head} (the {ordinal(self.ranks[0])} closest)"
        return f"{head} (the closest of them {ordinal(self.ranks[0])})"
