# bench/bench.mk - make targets of the peer comparison (issue 11), read by
# the Makefile with `include bench/bench.mk` (after its bench rules; it
# uses $(BUILD) and the $(BUILD)/bench/% rule from there). None of these
# is part of `make test`, and only bench-peers needs node, npm and the
# npm registry (once, to install the pinned peers into bench/peers/).
#
#   make bench-peers      bench/peers.sh: Sluice and the npm peers on the
#                         same inputs, 1 and 2 threads, callgrind counts
#   make bench-callgrind  bench/callgrind.sh alone: instruction counts on
#                         a fixed input (needs valgrind, not node)

.PHONY: bench-peers bench-callgrind

bench-peers: all $(BUILD)/bench/peers
	@BUILD=$(BUILD) bench/peers.sh

bench-callgrind: all $(BUILD)/bench/peers
	@BUILD=$(BUILD) bench/callgrind.sh
