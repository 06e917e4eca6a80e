# shellcheck shell=bash
# Shared by scripts/test and scripts/bench: set up what smidge's tests and
# benchmark need on a Debian 12 machine (as root), and tear down only what
# we started. Source it; it defines functions and touches nothing by itself.
# issue #2: "The README's test command must, on a fresh Debian machine as
# root, install and start what the tests need".

smidge_log() { printf '==> %s\n' "$*" >&2; }

# Debian packages, each with the reason it is here.
SMIDGE_APT_PACKAGES=(
	docker.io       # dockerd + containerd + runc: `docker load`/`run`/`stop` end-to-end tests, the benchmark
	podman          # `podman load` + `podman run` of the uncompressed docker archive
	skopeo          # `skopeo inspect oci:` / `oci-archive:` of the OCI layouts
	umoci           # `umoci unpack` of the OCI layout
	qemu-user       # qemu-x86_64 / qemu-i386 run the portable-fit payloads directly
	qemu-user-static # binfmt_misc handlers: on a non-x86 host, `docker run` of the amd64/386 images goes through them
	binfmt-support  # update-binfmts, which registers qemu-user-static's handlers
	util-linux      # unshare/nsenter (pause as PID 1 of a new PID namespace), script (a pty), mount
	procps          # kill(1): the exec tests signal pause by PID
	busybox-static  # issue #5: a real static program for `smidge pack` (docker run IMAGE echo hi, --strip)
	nasm            # issue #5: `nasm -f bin` flat code for `smidge wrap` tests
	docker-registry # issue #4: the distribution registry tests/registry.rs pushes to (anonymous, htpasswd + HTTPS, bearer tokens)
	apache2-utils   # issue #4: `htpasswd -B`, the bcrypt htpasswd file of the basic-auth registry
	openssl         # issue #4: the test CA and server certificate, the token issuer's RS256 key and signatures
	containerd      # issue #4: `ctr image pull --plain-http` / `ctr run` / `ctr task kill` of the pushed pause image
	time            # /usr/bin/time -f %M: peak memory of `smidge pack` on large inputs (tests, scripts/bench)
	ca-certificates # rustup download on a machine without Rust
	curl            # rustup download on a machine without Rust; issue #6: curl against `serve`
	wrk             # issue #6: load on `serve` with 64 connections (tests/serve.rs, scripts/bench)
	nginx-light     # issue #6: scripts/bench serves the same body with nginx, side by side with `serve`
	chromium        # issue #11: headless Chromium renders `smidge explain`'s SVG and HTML to PNG
	tinyproxy       # issue #13: the HTTPS proxy in front of a registry (its log shows the CONNECT)
	strace          # issue #12: `strace -f` shows the quine calls only write and exit
	gcc             # rustc links through cc
	libc6-dev       # crt files and libc for linking the test binaries
)

# Install the packages that are missing; skip apt altogether when none is,
# so a rerun is fast and works offline.
smidge_apt_install() {
	local missing=() pkg
	for pkg in "${SMIDGE_APT_PACKAGES[@]}"; do
		if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
			missing+=("$pkg")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		smidge_log "Debian packages: all present"
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		smidge_log "missing Debian packages (${missing[*]}); run as root to install them"
		return 1
	fi
	smidge_log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
}

# A Rust toolchain with rustfmt and clippy (rustup's, since Debian's cargo is
# too old for the dependencies).
smidge_rust() {
	if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
		export PATH="$HOME/.cargo/bin:$PATH"
	fi
	if ! command -v cargo >/dev/null 2>&1; then
		smidge_log "installing Rust with rustup"
		curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
			sh -s -- -y --profile minimal --component rustfmt,clippy
		export PATH="$HOME/.cargo/bin:$PATH"
	fi
	if command -v rustup >/dev/null 2>&1; then
		local c
		for c in rustfmt clippy; do
			if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
				rustup component add "$c"
			fi
		done
	fi
}

# binfmt_misc must be mounted for the kernel to hand foreign ELF files to qemu.
smidge_mount_binfmt() {
	if [ -e /proc/sys/fs/binfmt_misc/register ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		smidge_log "binfmt_misc is not mounted (needs root); foreign-platform runs may fail"
		return 0
	fi
	smidge_log "mounting binfmt_misc"
	mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
	# qemu-user-static's handlers are registered at install time only when
	# binfmt_misc was mounted then; (re-)import them now.
	local f
	for f in /usr/share/binfmts/qemu-*; do
		[ -e "$f" ] || continue
		update-binfmts --enable "${f##*/}" >/dev/null 2>&1 || true
	done
}

# Start dockerd when no daemon answers; remember its PID so that
# smidge_cleanup stops it (and nothing else).
SMIDGE_DOCKERD_PID=""
SMIDGE_DOCKERD_LOG=""
smidge_start_dockerd() {
	if docker info >/dev/null 2>&1; then
		smidge_log "docker: a daemon is already running; using it"
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		smidge_log "docker: no daemon, and starting one needs root"
		return 1
	fi
	SMIDGE_DOCKERD_LOG="$(mktemp -t smidge-dockerd.XXXXXX.log)"
	smidge_log "docker: starting dockerd (log: $SMIDGE_DOCKERD_LOG)"
	# shellcheck disable=SC2086 # SMIDGE_DOCKERD_ARGS is a list of words
	dockerd ${SMIDGE_DOCKERD_ARGS:-} >"$SMIDGE_DOCKERD_LOG" 2>&1 &
	SMIDGE_DOCKERD_PID=$!
	local i
	for i in $(seq 1 120); do
		if docker info >/dev/null 2>&1; then
			smidge_log "docker: dockerd (pid $SMIDGE_DOCKERD_PID) ready after $((i / 2)) s"
			return 0
		fi
		if ! kill -0 "$SMIDGE_DOCKERD_PID" 2>/dev/null; then
			break
		fi
		sleep 0.5
	done
	smidge_log "docker: dockerd did not come up within 60 s; its log:"
	tail -n 30 "$SMIDGE_DOCKERD_LOG" >&2 || true
	return 1
}

smidge_stop_dockerd() {
	[ -n "$SMIDGE_DOCKERD_PID" ] || return 0
	if kill -0 "$SMIDGE_DOCKERD_PID" 2>/dev/null; then
		smidge_log "docker: stopping dockerd (pid $SMIDGE_DOCKERD_PID)"
		kill -TERM "$SMIDGE_DOCKERD_PID" 2>/dev/null || true
		local i
		for i in $(seq 1 60); do
			kill -0 "$SMIDGE_DOCKERD_PID" 2>/dev/null || break
			sleep 0.5
		done
		if kill -0 "$SMIDGE_DOCKERD_PID" 2>/dev/null; then
			smidge_log "docker: dockerd ignored SIGTERM for 30 s; SIGKILL"
			kill -KILL "$SMIDGE_DOCKERD_PID" 2>/dev/null || true
		fi
		wait "$SMIDGE_DOCKERD_PID" 2>/dev/null || true
	fi
	SMIDGE_DOCKERD_PID=""
	if [ -n "$SMIDGE_DOCKERD_LOG" ]; then
		rm -f "$SMIDGE_DOCKERD_LOG"
	fi
}

# Everything a script registers to undo runs from here, once, on exit.
smidge_cleanup() {
	local status=$?
	smidge_stop_dockerd
	return "$status"
}
