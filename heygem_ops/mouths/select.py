"""Which banked mouth each output frame shows: one path through the bank per job.

Each output frame asks for a mouth shape (the warp engine's own targets: inner-lip gap and width
from the speech's articulation) on a head in the pose of the template frame shown. Every usable
bank entry has a cost there: its shape's distance from the target (a crop that must be stretched
open costs more than one squeezed shut: stretching smears teeth), a little more for an open target
when the crop shows no teeth, plus its head pose's distance from the shown frame's. The path
minimises the summed cost plus a transition term over the whole job (Viterbi over the K cheapest
entries per frame, joined by the continuations of the best paths so far): the next template frame
(or the previous, played backwards) is free or nearly, holding one costs a little, a jump costs as
much as several frames of a poor match, so the mouth moves as the template's own did and switches
seldom. Decided once per job, in planning, so chunks rendered on different workers agree at their
boundaries. A jump cross-fades over FADE_FRAMES frames from the old run's continuation into the
new entry, hiding a change of texture or light; it cuts where the template itself cuts to another
view (the old mouth would not fit) and between mouths opened differently (a fade would show a
double exposure of two shapes; a cut reads as the mouth moving, as it does in speech).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heygem_ops.articulation.analysis import ArticulationTrack
from heygem_ops.engines.warp import mouth_gap, target_width
from heygem_ops.mouths.bank import MouthBank

GAP_SCALE = 0.02  # interocular distances of gap error that cost 1 per frame...
STRETCH = 2.0  # ...times this when the crop is less open than the target...
CLOSED_WEIGHT = 10.0  # ...and (1 + this) times at a full lip closure: a P, B or M must read shut, if briefly
WIDTH_SCALE = 0.06  # interocular distances of width error that cost 1
POSE_SCALE = 0.06  # interocular distances of nose-tip offset (yaw, pitch proxies) that cost 1
LIGHT_SCALE = 6.0  # Lab distance between the skin around the lips of crop and shown frame that costs 1
TEETH_COST, TEETH_FULL = 6.0, 0.3  # an open target prefers crops that show teeth (this share of the interior)...
OPEN_GAP = 0.08  # ...fully from this target gap (interocular distances)
NEXT_COST, BACK_COST, HOLD_COST, JUMP_COST = 0.0, 0.3, 0.6, 10.0  # transitions to the next/previous/same/other entry
CANDIDATES = 10  # cheapest entries per frame the path may pick from (besides the best paths' continuations)
FADE_FRAMES = 3  # frames a jump cross-fades over...
FADE_MAX_COST = 4.0  # ...unless the old run's pose and light cost this much on the shown frame: then it cuts;
FADE_MAX_GAP = 0.03  # ...and it cuts between openings this different (interocular distances): a double exposure
BLOCK = 512  # output frames whose costs are computed at once: memory stays small for any length


@dataclass(frozen=True)
class MouthPath:
    """The bank mouth shown at each of N output frames.

    entries:   (N,) int32 template frame whose banked mouth shows.
    fade_from: (N,) int32 template frame being faded out after a jump, -1 where none.
    fade:      (N,) float32 weight of `fade_from` (0 where none).
    """

    entries: np.ndarray
    fade_from: np.ndarray
    fade: np.ndarray

    def window(self, start: int, stop: int) -> MouthPath:
        return MouthPath(self.entries[start:stop], self.fade_from[start:stop], self.fade[start:stop])

    def shown(self, k: int) -> list[tuple[int, float]]:
        """The (template frame, weight) pairs frame k blends: one, or two during a cross-fade."""
        if self.fade_from[k] < 0:
            return [(int(self.entries[k]), 1.0)]
        weight = float(self.fade[k])
        return [(int(self.entries[k]), 1.0 - weight), (int(self.fade_from[k]), weight)]


def mouth_targets(shape: ArticulationTrack, mouth_width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N,) inner-lip gap (0 when pressed shut) and (N,) width the warp engine targets, interocular distances,
    and (N,) how closed the lips must be (the articulation's closure, 0..1)."""
    return np.maximum(mouth_gap(shape), 0.0), target_width(shape, mouth_width), shape.closure.astype(np.float32)


def entry_costs(
    bank: MouthBank,
    entries: np.ndarray,
    gap: np.ndarray,
    width: np.ndarray,
    shown: np.ndarray,
    closure: np.ndarray | None = None,
) -> np.ndarray:
    """(N, E) cost of showing bank `entries` (E,) at N frames with targets gap, width (N,) over template frames
    `shown` (N,): their head pose and the light on their skin. `closure` (N,): the lips' closure there."""
    error = bank.gap[entries][None, :] - gap[:, None]
    cost = np.where(error < 0, STRETCH, 1.0) * (error / GAP_SCALE) ** 2
    if closure is not None:
        cost *= 1.0 + CLOSED_WEIGHT * closure[:, None]
    cost += ((bank.width[entries][None, :] - width[:, None]) / WIDTH_SCALE) ** 2
    cost += context_costs(bank, entries, shown)
    opened = np.clip(gap / OPEN_GAP, 0.0, 1.0)[:, None]
    cost += TEETH_COST * opened * (1.0 - np.clip(bank.teeth[entries][None, :] / TEETH_FULL, 0.0, 1.0))
    return cost.astype(np.float32)


def context_costs(bank: MouthBank, entries: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """(N, E) the part of `entry_costs` from the shown frames (N,): head pose, and light on the skin."""
    cost = (((bank.pose[entries][None, :, :] - bank.pose[shown][:, None, :]) / POSE_SCALE) ** 2).sum(axis=2)
    lit = bank.light[shown].any(axis=1)[:, None]  # a shown frame without a crop has no light measured
    light = np.linalg.norm(bank.light[entries][None, :, :] - bank.light[shown][:, None, :], axis=2)
    return cost + np.where(lit, (light / LIGHT_SCALE) ** 2, 0.0)


def _cheapest(
    bank: MouthBank, gap: np.ndarray, width: np.ndarray, shown: np.ndarray, closure: np.ndarray | None
) -> np.ndarray:
    """(N, K) the CANDIDATES cheapest usable entries per frame, computed BLOCK frames at a time."""
    usable = np.flatnonzero(bank.usable)
    k = min(CANDIDATES, len(usable))
    out = np.empty((len(gap), k), dtype=np.int64)
    for start in range(0, len(gap), BLOCK):
        part = slice(start, start + BLOCK)
        costs = entry_costs(bank, usable, gap[part], width[part], shown[part], _part(closure, part))
        out[part] = usable[np.argpartition(costs, k - 1, axis=1)[:, :k]]
    return out


def _neighbours(bank: MouthBank, entries: np.ndarray, step: int) -> np.ndarray:
    """The entry `step` frames on from each of `entries` where it is usable, else the entry itself."""
    moved = entries + step
    ok = (moved >= 0) & (moved < bank.size)
    ok[ok] = bank.usable[moved[ok]]
    return np.where(ok, moved, entries)


def _transitions(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """(P, C) cost of going from each previous entry to each current one."""
    step = current[None, :] - previous[:, None]
    cost = np.full(step.shape, JUMP_COST, dtype=np.float32)
    cost[step == 1], cost[step == -1], cost[step == 0] = NEXT_COST, BACK_COST, HOLD_COST
    return cost


def _part(values: np.ndarray | None, part: slice) -> np.ndarray | None:
    return None if values is None else values[part]


def choose_path(
    bank: MouthBank, gap: np.ndarray, width: np.ndarray, shown: np.ndarray, closure: np.ndarray | None = None
) -> MouthPath:
    """The cheapest path through `bank` for N output frames (see the module docstring).

    gap, width, closure: (N,) targets (`mouth_targets`; without closure every frame weighs its gap alike);
    shown: (N,) template frame shown at each output frame.
    """
    count = len(gap)
    cheapest = _cheapest(bank, gap, width, shown, closure)
    states = [cheapest[0]]
    score = entry_costs(bank, cheapest[0], gap[:1], width[:1], shown[:1], _part(closure, slice(0, 1)))[0]
    back = []
    for t in range(1, count):
        best = states[-1][np.argsort(score)[:CANDIDATES]]
        current = np.concatenate([cheapest[t], _neighbours(bank, best, 1), _neighbours(bank, best, -1), best])
        total = score[:, None] + _transitions(states[-1], current)
        pick = total.argmin(axis=0)
        score = (
            total[pick, np.arange(len(current))]
            + entry_costs(
                bank, current, gap[t : t + 1], width[t : t + 1], shown[t : t + 1], _part(closure, slice(t, t + 1))
            )[0]
        )
        states.append(current)
        back.append(pick)
    path = np.empty(count, dtype=np.int32)
    state = int(np.argmin(score))
    for t in range(count - 1, -1, -1):
        path[t] = states[t][state]
        if t:
            state = int(back[t - 1][state])
    return _with_fades(bank, path, shown)


def _with_fades(bank: MouthBank, path: np.ndarray, shown: np.ndarray) -> MouthPath:
    """The path with a cross-fade after every jump: the old run goes on, fading out over FADE_FRAMES;
    a hard cut where the old run does not fit the shown frame (the template itself cuts to another view)."""
    fade_from = np.full(len(path), -1, dtype=np.int32)
    fade = np.zeros(len(path), dtype=np.float32)
    jumps = np.flatnonzero(np.abs(np.diff(path)) > 1) + 1
    for t in jumps:
        step = int(path[t - 1] - path[t - 2]) if t >= 2 and abs(int(path[t - 1] - path[t - 2])) <= 1 else 1
        old = np.array([path[t - 1]])
        for i in range(FADE_FRAMES):
            if t + i >= len(path) or (i and t + i in jumps):
                break
            old = _neighbours(bank, old, step)
            if context_costs(bank, old, shown[t + i : t + i + 1])[0, 0] > FADE_MAX_COST:
                break
            if abs(float(bank.gap[old[0]] - bank.gap[path[t + i]])) > FADE_MAX_GAP:
                break
            fade_from[t + i], fade[t + i] = old[0], 1.0 - (i + 1) / (FADE_FRAMES + 1)
    return MouthPath(path, fade_from, fade)
