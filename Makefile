# runsecrets: `make demo` runs the main job on its defaults, `make test` sets up and runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := build
# mount/umount/findmnt/setpriv/unshare/nsenter (util-linux, mount), gcc for the C readers, ip (iproute2) for the
# network namespaces of the partition tests, systemd for systemd-analyze/systemd-notify (the unit tests; systemd
# need not run). No libfuse: the agent speaks the FUSE protocol on /dev/fuse itself.
# Images (docs/images.md): skopeo pulls, umoci builds and unpacks, runc runs containers, docker-registry and
# busybox-static build and serve the test/demo image offline, apache2-utils' htpasswd makes the auth fixture.
# etcd-server: the managers' replicated store (manager/store/etcd.ts) and leader election (manager/etcd/), and
# their tests' throwaway members.
DEB_PACKAGES := util-linux mount gcc python3 iproute2 systemd runc skopeo umoci docker-registry busybox-static apache2-utils etcd-server
STAMP := node_modules/.install-stamp

.PHONY: setup build typecheck test test-reliability test-install demo demo-standalone demo-images bench clean

setup: $(STAMP)
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq $$missing; \
	fi

# npm ci only when the lock file changed since the last install.
$(STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: setup
	@rm -rf dist
	npx tsc -p tsconfig.json
	@# the task launcher is a bash script, found next to its module (agent/executor/launcher.ts finds the source one too)
	cp agent/executor/launcher.sh dist/agent/executor/launcher.sh
	@# the exec pty helper (docker exec -t) is a python3 script, found next to its module
	cp agent/engine-api/pty-exec.py dist/agent/engine-api/pty-exec.py

# tap only transpiles tests; type-check them (strict, like the product) before running them.
typecheck: build
	npx tsc -p tsconfig.test.json

test: typecheck
	@bash test/run-all.sh

# The slow reliability and security suite (crashes, partitions, fuzzing, access matrix, bytes on the worker, load,
# attacks on real processes in test/security/): one file at a time, so that its figures are not skewed by the other
# files. docs/RELIABILITY.md reports it. `make test` leaves test/security/ out (package.json): floods and 250 MiB
# frames need the whole machine.
test-reliability: typecheck
	@RS_TAP_LOG=.tap/reliability.tap bash test/run-all.sh --jobs=1 --timeout=900 test/reliability/*.test.ts test/security/*.test.ts

# The package as users get it: npm pack, npm install -g into a scratch prefix, `runsecrets version` and the
# standalone demo from there (test/packaging/install.sh; needs the npm registry for the dependencies).
test-install: setup
	@bash test/packaging/install.sh

# The whole mission on one machine, Docker's walkthrough with the stock docker CLI: manager, agent, a local registry
# with an image built offline, secret, service (a runc container), docker ps/exec, live revoke, cleanup.
demo: build
	@bash scripts/images/with-registry.sh bash scripts/demo-cluster.sh

# The agent alone, driven by task manifests (no manager).
demo-standalone: build
	@bash scripts/demo.sh

# Image resolution offline: a local registry with a busybox image built from busybox-static, the docker CLI pinning
# digests through the manager, a registry mirror serving Docker Hub names (docs/images.md).
demo-images: build
	@bash scripts/images/with-registry.sh bash scripts/images/demo-resolve.sh

bench: build
	@bash bench/run.sh

clean:
	rm -rf dist .tap bench/out
