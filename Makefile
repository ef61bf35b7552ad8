# Stoa — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
DATA ?= var/stoa
LDFLAGS := -X main.Version=$(VERSION)
# Every package except the fuzz-only seeds runs under the race detector.
TEST_FLAGS ?= -race -count=1 -timeout 30m

.PHONY: all deps build run test test-short lint fuzz bench clean

all: build

## deps: install what is missing (apt packages, Chromium, Go modules). Idempotent.
deps:
	@bash .ci/deps.sh

## build: compile the binaries into out/bin (stoa-server is pure Go; roomd links the codecs
## and ALSA with cgo).
build:
	@mkdir -p out/bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o out/bin/ ./services/cmd/stoa-server
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o out/bin/ ./firmware/cmd/roomd ./firmware/cmd/roomctl

## run: start every server role on loopback with state in $(DATA), and one simulated room
## (roomd --board=sim) that shows its pairing code. Ctrl-C stops both.
## FQDN is the portal's name (its first-start self-signed certificate names it): the default is
## the name the dev image (make qemu) knows the portal by. Browsers and curl resolve *.localhost to
## loopback on their own; stoa-server and the sim room get it from a private /etc/hosts (a mount
## namespace, in a user namespace when not root), as test/hil does. TURN URLs name it too, so the
## QEMU room reaches TURN over TCP through its forward.
FQDN ?= portal.stoa.localhost
TURN_TCP ?= 127.0.0.1:3478
HOSTS_NS = unshare $(if $(filter 0,$(shell id -u)),,--user --map-root-user) --mount --propagation private -- \
	sh -c 'mount --bind "$$0" /etc/hosts && exec "$$@"' $(abspath $(DATA))/hosts
run: deps build
	@mkdir -p $(DATA)/room
	@rm -f $(DATA)/addresses.json
	@if [ -d $(DATA)/portal ] && [ "$$(cat $(DATA)/fqdn 2>/dev/null || echo localhost)" != "$(FQDN)" ]; then \
	  was=$$(cat $(DATA)/fqdn 2>/dev/null || echo localhost); \
	  echo "make run: $(DATA) holds a portal named $$was (its certificate and paired rooms use that name), not $(FQDN)."; \
	  echo "  start afresh: rm -rf $(DATA) && make run    or keep it: make run FQDN=$$was (make qemu needs $(FQDN))"; exit 1; fi
	@echo "$(FQDN)" > $(DATA)/fqdn
	@{ cat /etc/hosts; echo "127.0.0.1 $(FQDN)"; } > $(DATA)/hosts
	@trap 'kill 0' INT TERM; \
	ns=1; wrap() { if [ -n "$$ns" ]; then exec $(HOSTS_NS) "$$@"; else exec "$$@"; fi; }; \
	if [ "$(FQDN)" = localhost ]; then ns=; \
	elif ! $(HOSTS_NS) true 2>/dev/null; then \
	  if getent ahosts $(FQDN) | grep -q -e '^127\.' -e '^::1 '; then ns=; else \
	    echo "make run: cannot give stoa-server a private /etc/hosts (unshare failed) and $(FQDN) does not resolve to loopback here:"; \
	    echo "  add '127.0.0.1 $(FQDN)' to /etc/hosts, or run without make qemu: make run FQDN=localhost"; exit 1; fi; fi; \
	(wrap ./out/bin/stoa-server --data-dir $(DATA) --fqdn $(FQDN) --turn-host $(FQDN) --turn-tcp-addr $(TURN_TCP) all) & server=$$!; \
	until [ -s $(DATA)/addresses.json ]; do kill -0 $$server 2>/dev/null || exit 1; sleep 0.2; done; \
	portal=$$(sed -n 's/.*"portal_url": *"\([^"]*\)".*/\1/p' $(DATA)/addresses.json); \
	(wrap ./out/bin/roomd --board=sim --data-dir $(DATA)/room --portal-url $$portal --panel-addr 127.0.0.1:8450) & \
	echo "Room: pair it under Admin → Rooms with the pairing code below (or: ./out/bin/roomctl --socket $(DATA)/room/roomd.sock status)"; \
	echo "QEMU room: in another terminal, make qemu (boots the appliance image wired to this stack)"; \
	wait $$server

## test: everything CI runs: lint, then every test (unit, end-to-end, browser) with -race, then
## the QEMU suites one at a time (the driver tests in a throwaway VM, then the appliance image
## booted with simulated hardware): they are CPU-bound under TCG and flake-free only unshared.
## 80 minutes: from a cold cache test/hil also builds the arm64 base under qemu-user (~25 min).
## The congested-link simulcast test judges how pion's GCC reacts to queueing delay on a
## virtual network: beside the parallel suite, CPU contention reads as congestion. It runs alone.
QEMU_PKGS := ./test/vm/... ./test/hil/...
QUIET_TESTS := ^TestSimulcastFollowsCappedLink$$
test: deps lint
	$(GO) test $(TEST_FLAGS) -skip '$(QUIET_TESTS)' $$($(GO) list ./... | grep -v -e '/test/vm' -e '/test/hil')
	$(GO) test $(TEST_FLAGS) -run '$(QUIET_TESTS)' ./services/router
	$(GO) test -race -count=1 -timeout 80m -p 1 $(QEMU_PKGS)

## test-short: the quick loop while developing (no race detector, long tests skipped).
test-short:
	$(GO) test -short -count=1 ./...

## lint: formatting and vet.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## fuzz: run every fuzz target for FUZZTIME each (default 10s).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: the router's CPU per forwarded packet and added latency against a peer-to-peer
## baseline measured in the same run (test/bench), for an audio-heavy and a video-heavy meeting.
BENCHTIME ?= 1x
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./test/bench/

clean:
	rm -rf out

## image: the room appliance image for BOARD (qemu-x86_64, pc): out/stoa-room-<board>-<version>.img,
## .img.zst and SHA256SUMS. CONFIG=stoa-config.json bakes a site configuration into it;
## ROOMD=path uses a prebuilt roomd instead of building ./firmware/cmd/roomd.
BOARD ?= qemu-x86_64
CONFIG ?=
ROOMD ?=
.PHONY: image qemu flash update-bundle
image:
	$(GO) run ./rootfs/cmd/stoa-image --board $(BOARD) --version $(VERSION) --out out $(if $(CONFIG),--config $(CONFIG)) $(if $(ROOMD),--roomd $(ROOMD))

## update-bundle: a signed A/B update bundle out/stoa-room-<board>-<version>.bundle for rooms
## flashed with an image from this machine (same signing key: ~/.cache/stoa-image/update-signing.key).
update-bundle:
	$(GO) run ./rootfs/cmd/stoa-image --bundle --board $(BOARD) --version $(VERSION) --out out $(if $(ROOMD),--roomd $(ROOMD))

## qemu: build the qemu-x86_64 image with rootfs/qemu/stoa-config.dev.json (the guest knows the
## portal as portal.stoa.localhost) and boot it wired to the running `make run` stack (same DATA):
## its portal, management listener and TURN (TCP) are forwarded into the guest. Console on stdout,
## QMP and serial sockets in var/qemu; QEMU_DISPLAY=gtk shows the screen in a window.
QEMU_DISPLAY ?= none
qemu:
	@test -s $(DATA)/addresses.json || { echo "make qemu: no make run stack ($(DATA)/addresses.json missing): start make run in another terminal first"; exit 1; }
	$(MAKE) image BOARD=qemu-x86_64 CONFIG=rootfs/qemu/stoa-config.dev.json
	$(GO) run ./rootfs/cmd/stoa-qemu --image out/stoa-room-qemu-x86_64-$(VERSION).img --data $(DATA) --turn-tcp $(TURN_TCP) --display $(QEMU_DISPLAY)

## flash: write the image to a removable disk: make flash DEV=/dev/sdX [BOARD=...] [FORCE=1].
## Refuses a mounted disk, and a fixed or >256 GiB one unless FORCE=1; verifies by reading back.
flash:
	@test -n "$(DEV)" || { echo "make flash DEV=/dev/sdX"; exit 2; }
	$(GO) run ./rootfs/cmd/stoa-flash --image out/stoa-room-$(BOARD)-$(VERSION).img.zst --dev $(DEV) $(if $(FORCE),--force)
