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
run: deps build
	@mkdir -p $(DATA)/room
	@rm -f $(DATA)/addresses.json
	@trap 'kill 0' INT TERM; \
	./out/bin/stoa-server --data-dir $(DATA) all & server=$$!; \
	until [ -s $(DATA)/addresses.json ]; do kill -0 $$server 2>/dev/null || exit 1; sleep 0.2; done; \
	portal=$$(sed -n 's/.*"portal_url": *"\([^"]*\)".*/\1/p' $(DATA)/addresses.json); \
	./out/bin/roomd --board=sim --data-dir $(DATA)/room --portal-url $$portal --panel-addr 127.0.0.1:8450 & \
	echo "Room: pair it under Admin → Rooms with the pairing code below (or: ./out/bin/roomctl --socket $(DATA)/room/roomd.sock status)"; \
	wait $$server

## test: everything CI runs: lint, then every test (unit, end-to-end, browser) with -race, then
## the QEMU suites one at a time (the driver tests in a throwaway VM, then the appliance image
## booted with simulated hardware): they are CPU-bound under TCG and flake-free only unshared.
QEMU_PKGS := ./test/vm/... ./test/hil/...
test: deps lint
	$(GO) test $(TEST_FLAGS) $$($(GO) list ./... | grep -v -e '/test/vm' -e '/test/hil')
	$(GO) test -race -count=1 -timeout 60m -p 1 $(QEMU_PKGS)

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

## qemu: build the qemu-x86_64 image and boot it wired to a local `make run` stack's
## portal (guest portal.stoa.test → host); console on stdout, QMP/serial sockets in var/qemu.
## The image is rebuilt with rootfs/qemu/stoa-config.dev.json (portal.stoa.test = the host's portal);
## the stack's portal certificate must name portal.stoa.test (stoa-server --fqdn portal.stoa.test).
qemu:
	$(MAKE) image BOARD=qemu-x86_64 CONFIG=rootfs/qemu/stoa-config.dev.json
	$(GO) run ./rootfs/cmd/stoa-qemu --image out/stoa-room-qemu-x86_64-$(VERSION).img --data $(DATA)

## flash: write the image to a removable disk: make flash DEV=/dev/sdX [BOARD=...] [FORCE=1].
## Refuses a mounted disk, and a fixed or >256 GiB one unless FORCE=1; verifies by reading back.
flash:
	@test -n "$(DEV)" || { echo "make flash DEV=/dev/sdX"; exit 2; }
	$(GO) run ./rootfs/cmd/stoa-flash --image out/stoa-room-$(BOARD)-$(VERSION).img.zst --dev $(DEV) $(if $(FORCE),--force)
