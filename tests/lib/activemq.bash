# tests/lib/activemq.bash - private Apache ActiveMQ brokers for bats suites.
#
# Owns: installing Debian's activemq package (amq_install) and the life of
# test brokers, each of which lives in one directory DIR:
#   DIR/conf/     activemq.xml and log4j.properties, made from tests/activemq/
#   DIR/data/     kahaDB; kept across amq_stop/amq_start, so a restart test
#                 finds its persistent messages again
#   DIR/tmp/      the JVM's java.io.tmpdir
#   DIR/broker.log  the broker's console output, appended on every start
#   DIR/state     "key=value" lines: name, ow_port, stomp_port, ssl_port
#                 (with --ssl), pid, user
#   DIR/args      the options of the last amq_start that gave any
# Several brokers may run at once: nothing here is global except the
# AMQ_* convenience variables, which describe the broker last started or
# selected with amq_use.  Traffic stays on 127.0.0.1.
#
#   amq_install                     apt-get install activemq if missing
#   amq_start DIR [NAME] [--network OWPORT]... [--duplex] [--user U:P]...
#             [--grant USER:PREFIX]... [--ssl KEYSTORE.p12:PASSWORD]
#             [--max-frame BYTES]   start (or restart) the broker of DIR
#       --user      simpleAuthenticationPlugin: no anonymous access
#       --grant     authorizationPlugin: USER (one of --user) may read, write
#                   and create queue://PREFIX.> and topic://PREFIX.>; a user
#                   with no --grant may use no destination at all
#       --ssl       a stomp+ssl://127.0.0.1 connector too (its port is
#                   ssl_port), serving the key and certificate of the PKCS12
#                   file (absolute path) sealed with PASSWORD
#   amq_stop DIR | amq_kill DIR | amq_restart DIR
#   amq_use DIR                     set AMQ_DIR AMQ_NAME AMQ_PID AMQ_OW_PORT
#                                   AMQ_STOMP_PORT AMQ_SSL_PORT from DIR/state
#   amq_get DIR KEY                 one value from DIR/state
#   amq_stomp DIR ARGS...           tests/progs/stomp_cli.py against DIR
#   amq_queue_size DIR QUEUE        messages in /queue/QUEUE (a STOMP browse)
#   amq_kill_all                    amq_kill every DIR listed in $AMQ_REGISTRY
#   amq_tls_ca DIR NAME             a self-signed CA: DIR/NAME.pem, .key
#   amq_tls_keystore DIR CA PW      DIR/server.p12 for localhost, signed by
#                                   DIR/CA.pem (for --ssl DIR/server.p12:PW)
#
# Env: AMQ_START_TIMEOUT (s, default 60); AMQ_JAVA_OPTS (replaces
# AMQ_JAVA_DEFAULT below); AMQ_REGISTRY (a file: amq_start appends DIR to
# it, amq_kill_all reads it, for teardowns).

AMQ_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AMQ_TESTS_DIR=$(dirname "$AMQ_LIB_DIR")
AMQ_JAR=/usr/share/activemq/bin/activemq.jar
AMQ_STOMP_CLI=$AMQ_TESTS_DIR/progs/stomp_cli.py
# Small heap, the serial GC, and only the quick JIT tier: test brokers
# live for seconds, and this starts them faster (~0.9 s instead of ~1.1 s)
# with less CPU.  A throughput benchmark should set AMQ_JAVA_OPTS without
# -XX:TieredStopAtLevel=1.
AMQ_JAVA_DEFAULT="-Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"

amq_install() {
	[ -e "$AMQ_JAR" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "amq_install: $AMQ_JAR missing; apt-get install activemq as root" >&2
		return 1
	fi
	# The package list may be stale or absent on a fresh machine; only
	# then is the slow apt-get update worth it.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends activemq >&2 ||
		{ apt-get update -q >&2 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
				--no-install-recommends activemq >&2; } || return 1
	_amq_quiet_service
}

# The package's init script starts the instances linked in
# /etc/activemq/instances-enabled (none by default, and policy-rc.d may
# forbid it).  Tests start their own brokers, so make sure the package's
# one neither runs now (61616, 512 MB heap) nor at the next boot.
_amq_quiet_service() {
	local pid
	if [ -d /run/systemd/system ]; then
		systemctl disable --now activemq >/dev/null 2>&1
	else
		update-rc.d activemq disable >/dev/null 2>&1
	fi
	pgrep -u activemq -f activemq.jar >/dev/null 2>&1 || return 0
	invoke-rc.d activemq stop >/dev/null 2>&1 ||
		/etc/init.d/activemq stop >/dev/null 2>&1
	sleep 1
	for pid in $(pgrep -u activemq -f activemq.jar); do
		kill -TERM "$pid" 2>/dev/null
	done
	return 0
}

# amq_get DIR KEY: the last KEY=value line of DIR/state.
amq_get() {
	# Nothing (and success) before the first start: callers may run
	# under set -e -o pipefail.
	[ -f "$1/state" ] || return 0
	sed -n "s/^$2=//p" "$1/state" | tail -n 1
}

_amq_set() {
	local dir=$1 key=$2 val=$3
	{ grep -v "^$key=" "$dir/state" 2>/dev/null; echo "$key=$val"; } \
		>"$dir/state.new" && mv "$dir/state.new" "$dir/state"
}

amq_use() {
	AMQ_DIR=$1
	AMQ_NAME=$(amq_get "$1" name)
	AMQ_PID=$(amq_get "$1" pid)
	AMQ_OW_PORT=$(amq_get "$1" ow_port)
	AMQ_STOMP_PORT=$(amq_get "$1" stomp_port)
	AMQ_SSL_PORT=$(amq_get "$1" ssl_port)
	export AMQ_DIR AMQ_NAME AMQ_PID AMQ_OW_PORT AMQ_STOMP_PORT AMQ_SSL_PORT
}

# _amq_pid DIR: the pid of DIR's broker if it is alive.  The command line
# must name DIR, so that a recycled pid is never signalled; a zombie
# counts as dead.
_amq_pid() {
	local pid
	pid=$(amq_get "$1" pid)
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null |
		grep -qxF -- "-Dactivemq.base=$1" || return 1
	[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
	echo "$pid"
}

# _amq_free_port [AVOID]...: a port below the kernel's ephemeral range, so
# that no outgoing connection can be holding it when a restart binds it
# again, and with no socket of any state on it now.
_amq_free_port() {
	local lo base p i
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
	base=20000
	[ "$lo" -gt $((base + 2000)) ] || base=10000
	for ((i = 0; i < 200; i++)); do
		p=$((base + RANDOM % (lo - base)))
		[[ " $* " == *" $p "* ]] && continue
		[ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
	done
	echo "amq: no free port found" >&2
	return 1
}

_amq_port_open() {
	(exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _amq_plugins: the <plugins> block for the caller's users and grants
# arrays (--user U:P, --grant USER:PREFIX), or nothing when users is empty.
# Every user is in group "users"; a grant puts it in group "bridge-PREFIX"
# too, and gives that group every right on queue://PREFIX.> and
# topic://PREFIX.>.  A STOMP CONNECT makes the broker create advisory
# topics (ActiveMQ.Advisory.Connection, ...) on the user's behalf, which
# needs "admin" there, and nothing more: without it every CONNECT gets
# "ERROR ... not authorized to create: topic://ActiveMQ.Advisory.Connection";
# with read too, any user could watch who connects and subscribes to what.
# No XML escaping below: names are checked to hold safe characters only.
_amq_plugins() {
	local x u p groups entries=''
	[ ${#users[@]} -gt 0 ] || {
		[ ${#grants[@]} -eq 0 ] ||
			{ echo "amq_start: --grant needs --user" >&2; return 1; }
		return 0
	}
	for x in "${grants[@]}"; do
		[[ $x =~ ^[A-Za-z0-9._-]+:[A-Za-z0-9._-]+$ ]] ||
			{ echo "amq_start: bad --grant '$x'; give USER:PREFIX" >&2; return 1; }
		u=
		for p in "${users[@]}"; do
			[ "${p%%:*}" = "${x%%:*}" ] && u=1
		done
		[ -n "$u" ] ||
			{ echo "amq_start: --grant '$x': no --user ${x%%:*}" >&2; return 1; }
		p=${x#*:}
		entries+="            <authorizationEntry queue=\"$p.>\" read=\"bridge-$p\" write=\"bridge-$p\" admin=\"bridge-$p\"/>
            <authorizationEntry topic=\"$p.>\" read=\"bridge-$p\" write=\"bridge-$p\" admin=\"bridge-$p\"/>
"
	done
	echo "    <plugins>
      <simpleAuthenticationPlugin anonymousAccessAllowed=\"false\">
        <users>"
	for x in "${users[@]}"; do
		[[ $x =~ ^[A-Za-z0-9._-]+:[A-Za-z0-9._-]+$ ]] ||
			{ echo "amq_start: bad --user '$x'" >&2; return 1; }
		u=${x%%:*} groups=users
		for p in "${grants[@]}"; do
			[ "${p%%:*}" = "$u" ] && groups+=",bridge-${p#*:}"
		done
		echo "          <authenticationUser username=\"$u\" password=\"${x#*:}\" groups=\"$groups\"/>"
	done
	echo "        </users>
      </simpleAuthenticationPlugin>"
	[ ${#grants[@]} -eq 0 ] || echo "      <authorizationPlugin>
        <map>
          <authorizationMap>
            <authorizationEntries>
$entries            <authorizationEntry topic=\"ActiveMQ.Advisory.>\" admin=\"users\"/>
            </authorizationEntries>
          </authorizationMap>
        </map>
      </authorizationPlugin>"
	echo "    </plugins>"
}

# _amq_ssl_context KEYSTORE:PASSWORD: the broker's <sslContext>.
_amq_ssl_context() {
	local path=${1%:*} pw=${1##*:}
	[[ $1 == *:* && $path =~ ^/[A-Za-z0-9._/-]+$ && $pw =~ ^[A-Za-z0-9._-]+$ ]] ||
		{ echo "amq_start: bad --ssl '$1'; give /ABS/PATH.p12:PASSWORD" >&2; return 1; }
	[ -r "$path" ] || { echo "amq_start: --ssl: cannot read $path" >&2; return 1; }
	echo "    <sslContext>
      <sslContext keyStore=\"file:$path\" keyStorePassword=\"$pw\" keyStoreType=\"pkcs12\"/>
    </sslContext>"
}

# _amq_config DIR NAME OW STOMP SSL ARGS...: write DIR/conf from the
# templates; SSL is the stomp+ssl port, empty without --ssl.
_amq_config() {
	local dir=$1 name=$2 ow=$3 stomp=$4 ssl=$5
	shift 5
	local nets=() users=() grants=() duplex=false maxframe='' keystore='' x
	while [ $# -gt 0 ]; do
		case $1 in
		--network) nets+=("$2"); shift ;;
		--duplex) duplex=true ;;
		--user) users+=("$2"); shift ;;
		--grant) grants+=("$2"); shift ;;
		--ssl) keystore=$2; shift ;;
		--max-frame) maxframe=$2; shift ;;
		*) echo "amq_start: unknown option $1" >&2; return 1 ;;
		esac
		shift
	done
	local net='' plug='' opts='' cred='' ctx='' sslconn=''
	plug=$(_amq_plugins) || return 1
	[ -z "$plug" ] || plug+=$'\n'
	# A network connector logs in as the first user: the peer broker is
	# expected to know the same users.
	[ ${#users[@]} -eq 0 ] ||
		cred=" userName=\"${users[0]%%:*}\" password=\"${users[0]#*:}\""
	if [ ${#nets[@]} -gt 0 ]; then
		net="    <networkConnectors>
"
		for x in "${nets[@]}"; do
			[[ $x =~ ^[0-9]+$ ]] || { echo "amq_start: bad --network '$x'" >&2; return 1; }
			net+="      <networkConnector name=\"$name-to-$x\" uri=\"static:(tcp://127.0.0.1:$x)\" duplex=\"$duplex\"$cred/>
"
		done
		net+="    </networkConnectors>
"
	fi
	# Frames are small and latency matters: no Nagle on the broker's
	# side either (its default keeps small writes for up to 40 ms).
	opts="?transport.tcpNoDelay=true"
	if [ -n "$maxframe" ]; then
		[[ $maxframe =~ ^[0-9]+$ ]] || { echo "amq_start: bad --max-frame" >&2; return 1; }
		opts+="&amp;transport.maxFrameSize=$maxframe"
	fi
	if [ -n "$keystore" ]; then
		[ -n "$ssl" ] || { echo "amq_start: --ssl without a port" >&2; return 1; }
		ctx=$(_amq_ssl_context "$keystore")$'\n' || return 1
		sslconn="      <transportConnector name=\"stomp+ssl\" uri=\"stomp+ssl://127.0.0.1:$ssl$opts\"/>
"
	fi
	local t
	# Bash 5.2 would put the matched text for each '&' of a
	# replacement (the URI's &amp;): not here.
	shopt -u patsub_replacement 2>/dev/null || true
	t=$(cat "$AMQ_TESTS_DIR/activemq/activemq.xml.in") || return 1
	t=${t//@BROKER_NAME@/$name}
	t=${t//@OW_PORT@/$ow}
	t=${t//@STOMP_PORT@/$stomp}
	t=${t//@STOMP_OPTS@/$opts}
	t=${t//@NETWORK@/$net}
	t=${t//@PLUGINS@/$plug}
	t=${t//@SSL_CONTEXT@/$ctx}
	t=${t//@SSL_CONNECTOR@/$sslconn}
	printf '%s\n' "$t" >"$dir/conf/activemq.xml" &&
		cp "$AMQ_TESTS_DIR/activemq/log4j.properties" "$dir/conf/" &&
		_amq_set "$dir" user "${users[0]:-}"
}

# _amq_wants_ssl ARGS...: 0 when the amq_start options hold --ssl.
_amq_wants_ssl() {
	local x
	for x in "$@"; do
		[ "$x" = --ssl ] && return 0
	done
	return 1
}

amq_start() {
	local dir=${1:?usage: amq_start DIR [NAME] [options]}
	shift
	local name=
	if [ $# -gt 0 ] && [[ $1 != --* ]]; then
		name=$1
		shift
	fi
	[ -e "$AMQ_JAR" ] || { echo "amq_start: $AMQ_JAR missing (amq_install)" >&2; return 1; }
	mkdir -p "$dir/conf" "$dir/data" "$dir/tmp" || return 1
	dir=$(cd "$dir" && pwd)
	if _amq_pid "$dir" >/dev/null; then
		echo "amq_start: the broker of $dir is already running" >&2
		return 1
	fi
	# Options given now replace the saved ones; none reuses them (restart).
	if [ $# -eq 0 ] && [ -s "$dir/args" ]; then
		eval "set -- $(cat "$dir/args")"
	fi
	[ -n "$name" ] || name=$(amq_get "$dir" name)
	[ -n "$name" ] || name=$(basename "$dir" | tr -c 'A-Za-z0-9_\n' _)
	[[ $name =~ ^[A-Za-z0-9_]+$ ]] || { echo "amq_start: bad NAME '$name'" >&2; return 1; }
	# The ports of an existing DIR are kept: clients and peer brokers
	# configured with them must find the restarted broker.  Fresh ports
	# can be taken by someone else between the check and the bind: then
	# pick again.
	local ow stomp ssl fresh fresh_ssl rc=1 _
	for _ in 1 2 3; do
		ow=$(amq_get "$dir" ow_port)
		stomp=$(amq_get "$dir" stomp_port)
		ssl=$(amq_get "$dir" ssl_port)
		fresh='' fresh_ssl=''
		if [ -z "$ow" ] || [ -z "$stomp" ]; then
			ow=$(_amq_free_port) && stomp=$(_amq_free_port "$ow") || return 1
			fresh=1
		fi
		if ! _amq_wants_ssl "$@"; then
			ssl=
		elif [ -z "$ssl" ]; then
			ssl=$(_amq_free_port "$ow" "$stomp") || return 1
			fresh_ssl=1
		fi
		_amq_set "$dir" name "$name" && _amq_set "$dir" ow_port "$ow" &&
			_amq_set "$dir" stomp_port "$stomp" &&
			_amq_set "$dir" ssl_port "$ssl" || return 1
		_amq_config "$dir" "$name" "$ow" "$stomp" "$ssl" "$@" || return 1
		if [ $# -gt 0 ]; then printf '%q ' "$@"; fi >"$dir/args"
		_amq_launch "$dir" "$name" "$ow" "$stomp" "$ssl"
		rc=$?
		if [ "$rc" -ne 2 ] || [ -z "$fresh$fresh_ssl" ]; then
			break
		fi
		echo "amq_start: port $ow, $stomp or ${ssl:--} was taken; picking others" >&2
		if [ -n "$fresh" ]; then
			_amq_set "$dir" ow_port ""
			_amq_set "$dir" stomp_port ""
		fi
		[ -z "$fresh_ssl" ] || _amq_set "$dir" ssl_port ""
	done
	[ "$rc" -eq 0 ] || return 1
	amq_use "$dir"
	# Per-name copies, for suites that run two brokers at once.
	export "AMQ_STOMP_PORT_$name=$stomp" "AMQ_OW_PORT_$name=$ow" \
		"AMQ_SSL_PORT_$name=$ssl" \
		"AMQ_PID_$name=$AMQ_PID" "AMQ_DIR_$name=$dir"
}

# _amq_launch DIR NAME OW STOMP [SSL]: start the JVM and wait until it is
# ready.  Returns 1 on failure, 2 when a port was already in use.
_amq_launch() {
	local dir=$1 name=$2 ow=$3 stomp=$4 ssl=${5:-}
	local log=$dir/broker.log off pid
	touch "$log"
	off=$(stat -c %s "$log")
	echo "=== amq_start $(date +%T) name=$name openwire=$ow stomp=$stomp ssl=${ssl:--}" >>"$log"
	# idgenerator.localport stops the broker from binding a throw-away
	# listening socket on *:0 just to make its IDs unique; the OpenWire
	# port is unique on this machine anyway.  fd 3 is closed because
	# bats waits for every holder of it.
	# shellcheck disable=SC2086
	(cd "$dir" && exec java ${AMQ_JAVA_OPTS:-$AMQ_JAVA_DEFAULT} \
		-Djava.io.tmpdir="$dir/tmp" \
		--add-reads=java.xml=java.logging \
		--add-opens java.base/java.lang=ALL-UNNAMED \
		-Dactivemq.idgenerator.hostname="$name" \
		-Dactivemq.idgenerator.localport="$ow" \
		-Dactivemq.classpath="$dir/conf" \
		-Dactivemq.home=/usr/share/activemq \
		-Dactivemq.base="$dir" -Dactivemq.conf="$dir/conf" \
		-Dactivemq.data="$dir/data" \
		-jar "$AMQ_JAR" start "xbean:file:$dir/conf/activemq.xml") \
		>>"$log" 2>&1 </dev/null 3>&- &
	pid=$!
	# No "Killed" job notices from amq_kill in the suite's output.
	disown "$pid" 2>/dev/null
	_amq_set "$dir" pid "$pid"
	[ -n "${AMQ_REGISTRY:-}" ] && echo "$dir" >>"$AMQ_REGISTRY"

	local deadline=$((SECONDS + ${AMQ_START_TIMEOUT:-60}))
	while :; do
		if ! _amq_pid "$dir" >/dev/null; then
			# A bind failure makes the JVM exit at once.
			tail -c +$((off + 1)) "$log" | grep -q "Address already in use" &&
				return 2
			echo "amq_start: broker $name exited while starting; see $log" >&2
			tail -n 5 "$log" >&2
			return 1
		fi
		if tail -c +$((off + 1)) "$log" |
			grep -q "Apache ActiveMQ [0-9.]* ($name, .*) started" &&
			_amq_port_open "$stomp" &&
			{ [ -z "$ssl" ] || _amq_port_open "$ssl"; }; then
			return 0
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "amq_start: broker $name not ready in ${AMQ_START_TIMEOUT:-60} s; see $log" >&2
			amq_kill "$dir"
			return 1
		fi
		sleep 0.1
	done
}

# _amq_wait_gone PID TENTHS: 0 once PID is gone (or a zombie).
_amq_wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		[ -d "/proc/$1" ] || return 0
		[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
		sleep 0.1
	done
	return 1
}

amq_stop() {
	local dir pid
	dir=$(cd "${1:?usage: amq_stop DIR}" && pwd) || return 1
	pid=$(_amq_pid "$dir") || return 0
	kill -TERM "$pid" 2>/dev/null
	if ! _amq_wait_gone "$pid" 100; then
		echo "amq_stop: broker in $dir ignored SIGTERM for 10 s; SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null
		_amq_wait_gone "$pid" 50
	fi
	_amq_set "$dir" pid ""
}

amq_kill() {
	local dir pid
	dir=$(cd "${1:?usage: amq_kill DIR}" 2>/dev/null && pwd) || return 0
	pid=$(_amq_pid "$dir") || return 0
	kill -KILL "$pid" 2>/dev/null
	_amq_wait_gone "$pid" 50
	_amq_set "$dir" pid ""
}

# amq_tls_ca DIR NAME: a self-signed CA, DIR/NAME.pem and DIR/NAME.key,
# valid for two days.  openssl's chatter goes to DIR/openssl.log.
amq_tls_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1/$2.key" -out "$1/$2.pem" -days 2 -subj "/CN=$2" \
		>>"$1/openssl.log" 2>&1 ||
		{ echo "amq_tls_ca: openssl failed; see $1/openssl.log" >&2; return 1; }
}

# amq_tls_keystore DIR CA PASSWORD: a key and a certificate for the names
# localhost and 127.0.0.1, signed by DIR/CA.pem, as the PKCS12 file
# DIR/server.p12 sealed with PASSWORD (what amq_start --ssl takes).  Java
# 17 reads openssl's PKCS12 as it is: no keytool needed.
amq_tls_keystore() {
	local d=$1 log=$1/openssl.log
	printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		"basicConstraints=CA:FALSE" "keyUsage=digitalSignature" \
		"extendedKeyUsage=serverAuth" >"$d/server.ext" || return 1
	if ! openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/server.key" -out "$d/server.csr" \
		-subj /CN=localhost >>"$log" 2>&1 ||
		! openssl x509 -req -in "$d/server.csr" -CA "$d/$2.pem" \
			-CAkey "$d/$2.key" -CAcreateserial -days 2 \
			-extfile "$d/server.ext" -out "$d/server.pem" >>"$log" 2>&1 ||
		! openssl pkcs12 -export -in "$d/server.pem" -inkey "$d/server.key" \
			-name broker -out "$d/server.p12" -passout "pass:$3" \
			>>"$log" 2>&1; then
		echo "amq_tls_keystore: openssl failed; see $log" >&2
		return 1
	fi
}

amq_restart() {
	amq_stop "${1:?usage: amq_restart DIR}" && amq_start "$1"
}

amq_kill_all() {
	local dir
	[ -n "${AMQ_REGISTRY:-}" ] && [ -f "$AMQ_REGISTRY" ] || return 0
	sort -u "$AMQ_REGISTRY" | while IFS= read -r dir; do
		amq_kill "$dir"
	done
}

# amq_stomp DIR ARGS...: stomp_cli.py on DIR's STOMP port, logged in as
# DIR's first --user when it has one.
amq_stomp() {
	local dir=$1 user
	shift
	user=$(amq_get "$dir" user)
	set -- --port "$(amq_get "$dir" stomp_port)" "$@"
	[ -n "$user" ] && set -- --login "${user%%:*}" --passcode "${user#*:}" "$@"
	python3 "$AMQ_STOMP_CLI" "$@"
}

# amq_queue_size DIR QUEUE: ActiveMQ's STOMP queue browser (a SUBSCRIBE
# with browser:true) sends every message still in the queue, dispatched
# but un-ACKed ones included, then one MESSAGE with browser:end.  No JMX
# needed; it costs one STOMP connection and the bodies' transfer, so it
# suits test-sized queues (1000 messages were all counted).
amq_queue_size() {
	local out
	out=$(amq_stomp "$1" recv "/queue/$2" --count 0 --timeout 10 --ack auto \
		--header browser:true --stop-on-header browser:end) || return 1
	if [ -z "$out" ]; then
		echo 0
	else
		wc -l <<<"$out"
	fi
}
