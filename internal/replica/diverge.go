package replica

// Divergence (KIP-595, Kafka's fetch-based truncation): a follower's fetch
// names the epoch of the last batch it holds (LastFetchedEpoch) beside its
// fetch offset; the leader checks both against its epoch cache and, when
// the follower's log cannot be a prefix of its own, answers DivergingEpoch
// {epoch, endOffset} instead of records. The follower truncates to the
// offset TruncationOffset gives and fetches again with its new last epoch;
// when it did not know the leader's epoch, that next fetch may diverge once
// more, one epoch further back each time, until the logs agree.
//
// Both sides read only the epoch cache and the log end, so they need no
// lock beyond the cache's own.

// DivergingEpoch is the leader's check of a follower's fetch: diverged is
// true when the follower's log holds records the leader's does not, that
// is when the end offset of lastFetchedEpoch in the leader's cache is below
// fetchOffset, or the largest epoch <= lastFetchedEpoch the leader knows is
// a different (older) one. epoch and endOffset are then the answer's
// DivergingEpoch: that largest epoch and where it ends in the leader's log
// ((-1, -1) when lastFetchedEpoch is newer than every epoch the leader
// knows). A fetch without a last fetched epoch (< 0) is never diverged.
func (p *Partition) DivergingEpoch(lastFetchedEpoch int32, fetchOffset int64) (epoch int32, endOffset int64, diverged bool) {
	return divergingEpoch(p.epochs, lastFetchedEpoch, fetchOffset, p.log.EndOffset())
}

func divergingEpoch(c *epochCache, lastFetchedEpoch int32, fetchOffset, leo int64) (int32, int64, bool) {
	if lastFetchedEpoch < 0 {
		return -1, -1, false
	}
	epoch, end := c.EndOffsetFor(lastFetchedEpoch, leo)
	if epoch < lastFetchedEpoch || end < fetchOffset {
		return epoch, end, true
	}
	return -1, -1, false
}

// TruncationOffset is where a follower truncates its log on a
// DivergingEpoch{epoch, endOffset} from the leader (Kafka's
// getOffsetTruncationState), never above its own log end:
//   - it knows epoch: the smaller of the leader's endOffset and the end of
//     epoch in its own cache;
//   - its largest epoch <= epoch is an older one: the end of that older
//     epoch (the next fetch, carrying it as LastFetchedEpoch, lets the
//     leader check further back);
//   - it knows no epoch <= epoch, or the leader gave no epoch: the
//     leader's endOffset;
//   - the leader gave no end offset (-1): its own log end, truncating
//     nothing (Kafka keeps the fetch offset). The leader answers so only
//     for a last fetched epoch newer than any it knows, which cannot
//     happen while it records its own epoch in its cache on taking the
//     lead (followImage) and fences fetches of another current epoch.
func (p *Partition) TruncationOffset(epoch int32, endOffset int64) int64 {
	return truncationOffset(p.epochs, epoch, endOffset, p.log.EndOffset())
}

func truncationOffset(c *epochCache, epoch int32, endOffset, leo int64) int64 {
	if endOffset < 0 {
		return leo
	}
	if epoch < 0 {
		return min(endOffset, leo)
	}
	own, ownEnd := c.EndOffsetFor(epoch, leo)
	switch {
	case ownEnd < 0:
		return min(endOffset, leo)
	case own != epoch:
		return min(ownEnd, leo)
	}
	return min(ownEnd, endOffset, leo)
}

// LastFetchedEpoch is the epoch of the newest batch in the log as the
// epoch cache has it, which a follower's fetch carries; -1 when the cache
// is empty (a fresh or reset log), and the fetch then carries none.
func (p *Partition) LastFetchedEpoch() int32 { return p.epochs.Latest() }
