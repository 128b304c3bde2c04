#!/usr/bin/env bash
# record-test-vmalloc.sh - record lib/test_vmalloc under ftrace, for vmlab.load_kernel_run().
#
# Run as root on the Linux machine you want to compare with the model:
#
#   sudo tools/record-test-vmalloc.sh -o rec-fix -n fix_size run_test_mask=1 nr_threads=4 test_loop_count=300000
#   python -c 'import vmlab; print(vmlab.load_kernel_run("rec-fix"))'
#
# It checks that tracefs is mounted and test_vmalloc is available; sets up the vmalloc tracepoints
# (include/trace/events/vmalloc.h, 6.2+) where the kernel has them, or kprobes on
# __purge_vmap_area_lazy and drain_vmap_area_work (plus scheduler_tick) fetching @vmap_lazy_nr where
# it does not; runs test_vmalloc with the parameters given; saves the trace, the dmesg lines and the
# parameters into one directory; and removes every probe it created and restores the tracing
# settings it changed, also when interrupted (Ctrl-C, SIGTERM, SIGHUP). It prints what it does.
#
# Environment (mostly for testing without root; see tests/test_trace.py):
#   TRACEFS=DIR          tracefs mount point (default /sys/kernel/tracing, then /sys/kernel/debug/tracing);
#                        when set, root is not required
#   DRY_RUN=1            print every command that would change the system, change nothing
#   MODPROBE, INSMOD     commands that load the module (default modprobe, insmod)
#   TEST_VMALLOC_KO=F    insmod this test_vmalloc.ko instead of "modprobe test_vmalloc"
#   MODINFO              command that checks the module exists (default modinfo)
#   DMESG                command that prints the kernel log (default dmesg)
#   KALLSYMS, MEMINFO, MODULES   files (default /proc/kallsyms, /proc/meminfo, /proc/modules)

set -u -o pipefail

PROG=record-test-vmalloc
GROUP=vmlab

say()  { printf '[%s] %s\n' "$PROG" "$*" >&2; }
die()  { printf '[%s] error: %s\n' "$PROG" "$*" >&2; exit "${2:-1}"; }
usage() {
    cat <<'EOF'
usage: record-test-vmalloc.sh [options] [MODE] [PARAM=VALUE ...]

  MODE           performance | stress | smoke (the parameters test_vmalloc.sh passes)
  PARAM=VALUE    test_vmalloc module parameters: nr_threads run_test_mask test_loop_count
                 test_repeat_count sequential_test_order nr_pages use_huge single_cpu_test
options:
  -o DIR         output directory (default ./vmlab-rec-<date>-<time>); must be empty or new
  -n NAME        run name, the prefix of the files (default run)
  -m MODE        probes: auto (tracepoints if the kernel has them, else kprobes), tracepoints,
                 kprobes, or both (tracepoints plus the purge/drain kprobes, for purge durations)
  -b KB          per-CPU ring buffer size in KiB (default 16384)
  -t SECONDS     keep tracing after the module returns, for the trailing drain work (default 1.5)
  -s SECONDS     write /proc/meminfo to trace_marker this often (default 0.1; 0 = never)
  -T             no scheduler-tick kprobe (it samples vmap_lazy_nr at HZ per busy CPU)
  -h             this text
EOF
}

# ----------------------------------------------------------------------------- options
OUT=""
NAME=run
PROBE_MODE=auto
BUF_KB=16384
TAIL_S=1.5
MEM_S=0.1
TICK=1
while getopts ":o:n:m:b:t:s:Th" opt; do
    case $opt in
        o) OUT=$OPTARG ;;
        n) NAME=$OPTARG ;;
        m) PROBE_MODE=$OPTARG ;;
        b) BUF_KB=$OPTARG ;;
        t) TAIL_S=$OPTARG ;;
        s) MEM_S=$OPTARG ;;
        T) TICK=0 ;;
        h) usage; exit 0 ;;
        :) die "option -$OPTARG needs a value (see -h)" 2 ;;
        *) die "unknown option -$OPTARG (see -h)" 2 ;;
    esac
done
shift $((OPTIND - 1))

case $PROBE_MODE in auto|tracepoints|kprobes|both) ;; *) die "-m $PROBE_MODE: choose auto, tracepoints, kprobes or both" 2 ;; esac
[[ $NAME =~ ^[A-Za-z0-9_.-]+$ ]] || die "-n $NAME: use letters, digits, '_', '.', '-'" 2
[[ $BUF_KB =~ ^[0-9]+$ && $BUF_KB -gt 0 ]] || die "-b $BUF_KB: a positive number of KiB" 2
[[ $TAIL_S =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "-t $TAIL_S: a number of seconds" 2
[[ $MEM_S =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "-s $MEM_S: a number of seconds" 2

NCPUS=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 1)
PARAMS=()
KNOWN=" nr_threads run_test_mask test_loop_count test_repeat_count sequential_test_order nr_pages use_huge single_cpu_test "
for arg in "$@"; do
    case $arg in
        performance) PARAMS+=(sequential_test_order=1 test_repeat_count=3) ;;
        stress)      PARAMS+=("nr_threads=$NCPUS" test_repeat_count=20) ;;
        smoke)       PARAMS+=(test_loop_count=10000 test_repeat_count=10) ;;
        *=*)
            key=${arg%%=*}; val=${arg#*=}
            [[ $KNOWN == *" $key "* ]] || die "$arg: unknown test_vmalloc parameter; allowed:$KNOWN" 2
            if [[ $key == sequential_test_order || $key == use_huge || $key == single_cpu_test ]]; then
                [[ $val =~ ^(0|1|y|n|Y|N)$ ]] || die "$arg: $key takes 0/1/y/n" 2
            else
                [[ $val =~ ^(0x[0-9a-fA-F]+|[0-9]+)$ ]] || die "$arg: $key takes a non-negative integer" 2
            fi
            PARAMS+=("$arg") ;;
        *) die "$arg: not a mode (performance, stress, smoke) or PARAM=VALUE" 2 ;;
    esac
done

DRY_RUN=${DRY_RUN:-0}
MODPROBE=${MODPROBE:-modprobe}
INSMOD=${INSMOD:-insmod}
MODINFO=${MODINFO:-modinfo}
DMESG=${DMESG:-dmesg}
KALLSYMS=${KALLSYMS:-/proc/kallsyms}
MEMINFO=${MEMINFO:-/proc/meminfo}
MODULES=${MODULES:-/proc/modules}
KO=${TEST_VMALLOC_KO:-}

# ----------------------------------------------------------------------------- checks
if [[ -n ${TRACEFS:-} ]]; then
    TRACEFS_GIVEN=1
else
    TRACEFS_GIVEN=0
    for d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
        if [[ -e $d/trace && -e $d/tracing_on ]]; then TRACEFS=$d; break; fi
    done
fi
if [[ $DRY_RUN != 1 && $TRACEFS_GIVEN == 0 && $(id -u) != 0 ]]; then
    die "run as root (it writes to tracefs and loads a module); DRY_RUN=1 shows what it would do"
fi
[[ -n ${TRACEFS:-} && -e $TRACEFS/trace && -e $TRACEFS/tracing_on && -e $TRACEFS/trace_marker ]] ||
    die "tracefs is not mounted (no trace, tracing_on, trace_marker under ${TRACEFS:-/sys/kernel/tracing}); mount it with: mount -t tracefs nodev /sys/kernel/tracing"
say "tracefs: $TRACEFS"

if [[ -n $KO ]]; then
    [[ -f $KO ]] || die "TEST_VMALLOC_KO=$KO: no such file"
    LOAD=("$INSMOD" "$KO")
else
    $MODINFO test_vmalloc >/dev/null 2>&1 ||
        die "test_vmalloc is not available ($MODINFO test_vmalloc failed): build the kernel with CONFIG_TEST_VMALLOC=m, or pass TEST_VMALLOC_KO=/path/to/test_vmalloc.ko"
    LOAD=("$MODPROBE" test_vmalloc)
fi
if [[ -r $MODULES ]] && grep -q '^test_vmalloc ' "$MODULES"; then
    die "test_vmalloc is already loaded (it unloads itself when its tests end; wait, or rmmod it)"
fi

has_symbol() {  # a function kprobes can attach to
    if [[ -r $TRACEFS/available_filter_functions ]]; then
        grep -qE "^$1( |\$)" "$TRACEFS/available_filter_functions" && return 0
    fi
    [[ -r $KALLSYMS ]] && grep -qE " [tT] $1( |\$)" "$KALLSYMS"
}

HAVE_TP=0
[[ -d $TRACEFS/events/vmalloc/purge_vmap_area_lazy && -d $TRACEFS/events/vmalloc/free_vmap_area_noflush ]] && HAVE_TP=1
HAVE_KP=0
[[ -e $TRACEFS/kprobe_events ]] && has_symbol __purge_vmap_area_lazy && HAVE_KP=1
case $PROBE_MODE in
    auto) if [[ $HAVE_TP == 1 ]]; then PROBE_MODE=tracepoints; else PROBE_MODE=kprobes; fi ;;
esac
if [[ $PROBE_MODE == tracepoints || $PROBE_MODE == both ]] && [[ $HAVE_TP == 0 ]]; then
    die "this kernel has no vmalloc tracepoints (events/vmalloc/, 6.2+); use -m kprobes"
fi
if [[ $PROBE_MODE == kprobes || $PROBE_MODE == both ]] && [[ $HAVE_KP == 0 ]]; then
    die "cannot put kprobes on __purge_vmap_area_lazy (no kprobe_events, or the symbol is not in available_filter_functions / $KALLSYMS: inlined, or CONFIG_KPROBE_EVENTS is off)"
fi
say "probe mode: $PROBE_MODE"

LAZY_FETCH=" lazy=@vmap_lazy_nr:s64"
if [[ $PROBE_MODE != tracepoints ]]; then
    if [[ -r $KALLSYMS ]] && ! grep -qE " [bBdD] vmap_lazy_nr( |\$)" "$KALLSYMS"; then
        say "warning: vmap_lazy_nr is not in $KALLSYMS (CONFIG_KALLSYMS_ALL off?); the probes will not fetch it"
        LAZY_FETCH=""
    fi
fi

if [[ -z $OUT ]]; then OUT=./vmlab-rec-$(date +%Y%m%d-%H%M%S); fi
if [[ -e $OUT && -n $(ls -A "$OUT" 2>/dev/null) ]]; then die "$OUT exists and is not empty"; fi

# ----------------------------------------------------------------------------- actions
# Every change goes through these, so DRY_RUN shows all of them and the cleanup knows what to undo.
show() { printf '+ %s\n' "$*"; }
tf_write() {   # tf_write FILE VALUE: overwrite a tracefs control file
    show "echo '$2' > $TRACEFS/$1"
    [[ $DRY_RUN == 1 ]] && return 0
    printf '%s\n' "$2" > "$TRACEFS/$1"
}
tf_append() {  # tf_append FILE VALUE
    show "echo '$2' >> $TRACEFS/$1"
    [[ $DRY_RUN == 1 ]] && return 0
    printf '%s\n' "$2" >> "$TRACEFS/$1"
}
tf_read() { cat "$TRACEFS/$1" 2>/dev/null; }

CREATED_PROBES=()     # "vmlab/name" of each kprobe event added
ENABLED=()            # event enable files set to 1 by us
OLD_ON=$(tf_read tracing_on); OLD_ON=${OLD_ON:-0}
OLD_TRACER=$(tf_read current_tracer); OLD_TRACER=${OLD_TRACER:-nop}
OLD_CLOCK=$(tf_read trace_clock | sed -n 's/.*\[\(.*\)\].*/\1/p'); OLD_CLOCK=${OLD_CLOCK:-}
OLD_BUF=$(tf_read buffer_size_kb | sed 's/ .*//'); OLD_BUF=${OLD_BUF:-}
SAMPLER=""
CHILD=""
CLEANED=0

cleanup() {
    [[ $CLEANED == 1 ]] && return 0
    CLEANED=1
    say "cleaning up"
    if [[ -n $SAMPLER ]]; then kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; SAMPLER=""; fi
    if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then
        say "stopping ${LOAD[0]} (pid $CHILD); a module already running its tests finishes them in the kernel"
        kill "$CHILD" 2>/dev/null; wait "$CHILD" 2>/dev/null
    fi
    tf_write tracing_on 0 || true
    local f p
    for f in "${ENABLED[@]+"${ENABLED[@]}"}"; do tf_write "$f" 0 || true; done
    for p in "${CREATED_PROBES[@]+"${CREATED_PROBES[@]}"}"; do tf_append kprobe_events "-:$p" || say "warning: could not remove kprobe $p"; done
    [[ -n $OLD_CLOCK ]] && { tf_write trace_clock "$OLD_CLOCK" || true; }
    [[ -n $OLD_BUF ]] && { tf_write buffer_size_kb "$OLD_BUF" || true; }
    tf_write current_tracer "$OLD_TRACER" || true
    tf_write tracing_on "$OLD_ON" || true
}
trap 'cleanup' EXIT
trap 'say "interrupted"; cleanup; exit 130' INT
trap 'say "terminated"; cleanup; exit 143' TERM
trap 'say "hangup"; cleanup; exit 129' HUP

add_probe() {  # add_probe TYPE EVENT SYMBOL ARGS
    local def="$1:$GROUP/$2 $3$4"
    if tf_append kprobe_events "$def"; then
        CREATED_PROBES+=("$GROUP/$2")
    elif [[ -n $4 && $4 == *vmap_lazy_nr* ]]; then
        say "warning: '$def' was refused; retrying without the @vmap_lazy_nr fetch"
        def="$1:$GROUP/$2 $3${4//$LAZY_FETCH/}"
        tf_append kprobe_events "$def" && CREATED_PROBES+=("$GROUP/$2") || die "cannot add kprobe '$def'"
    else
        die "cannot add kprobe '$def'"
    fi
}
enable() {     # enable EVENTS_FILE
    tf_write "$1" 1 || die "cannot enable $TRACEFS/$1"
    ENABLED+=("$1")
}

say "output: $OUT (run $NAME), module parameters: ${PARAMS[*]:-(defaults)}"
if [[ $DRY_RUN == 1 ]]; then show "mkdir -p $OUT"; else mkdir -p "$OUT" || die "cannot create $OUT"; fi

tf_write tracing_on 0 || die "cannot write $TRACEFS/tracing_on"
tf_write current_tracer nop
if grep -qw mono <<<"$(tf_read trace_clock)"; then tf_write trace_clock mono; fi
tf_write buffer_size_kb "$BUF_KB"
tf_write trace ""

if [[ $PROBE_MODE == tracepoints || $PROBE_MODE == both ]]; then
    for ev in alloc_vmap_area purge_vmap_area_lazy free_vmap_area_noflush; do
        [[ -d $TRACEFS/events/vmalloc/$ev ]] && enable "events/vmalloc/$ev/enable"
    done
fi
if [[ $PROBE_MODE == kprobes || $PROBE_MODE == both ]]; then
    add_probe p purge_entry __purge_vmap_area_lazy "$LAZY_FETCH"
    add_probe r16 purge_exit __purge_vmap_area_lazy " ret=\$retval:u8$LAZY_FETCH"
    if has_symbol drain_vmap_area_work; then        # 5.18+: the deferred drain
        add_probe p drain_entry drain_vmap_area_work "$LAZY_FETCH"
        add_probe r16 drain_exit drain_vmap_area_work "$LAZY_FETCH"
    else
        say "no drain_vmap_area_work (a kernel before 5.18): purges run in the freeing task"
    fi
    if [[ $TICK == 1 && -n $LAZY_FETCH ]]; then
        tick=""
        for s in sched_tick scheduler_tick; do has_symbol $s && { tick=$s; break; }; done
        if [[ -n $tick ]]; then add_probe p tick "$tick" "$LAZY_FETCH"; else say "no scheduler_tick/sched_tick symbol: no periodic samples"; fi
    fi
    enable "events/$GROUP/enable"
fi

tf_write tracing_on 1
tf_append trace_marker "VMLAB start name=$NAME ${PARAMS[*]:-}"

if [[ $MEM_S != 0 && $MEM_S != 0.0 ]]; then
    show "(every ${MEM_S}s) MemFree/Slab/VmallocUsed/Percpu of $MEMINFO >> $TRACEFS/trace_marker"
    if [[ $DRY_RUN != 1 ]]; then
        (
            trap - INT TERM HUP EXIT
            while :; do
                line=$(awk '/^(MemFree|Slab|VmallocUsed|Percpu):/ { sub(":", "", $1); printf "%s=%s ", $1, $2 }' "$MEMINFO" 2>/dev/null)
                printf 'VMLABMEM %s\n' "$line" >> "$TRACEFS/trace_marker" 2>/dev/null
                sleep "$MEM_S"
            done
        ) &
        SAMPLER=$!
    fi
fi

DMESG_BEFORE=0
if [[ $DRY_RUN != 1 ]]; then DMESG_BEFORE=$($DMESG 2>/dev/null | wc -l); fi
say "running test_vmalloc: ${LOAD[*]} ${PARAMS[*]:-}"
show "${LOAD[*]} ${PARAMS[*]:-}"
RC=0
if [[ $DRY_RUN != 1 ]]; then
    "${LOAD[@]}" "${PARAMS[@]+"${PARAMS[@]}"}" &
    CHILD=$!
    wait "$CHILD"
    RC=$?
    CHILD=""
    # test_vmalloc runs its tests in its init function and returns -EAGAIN: a failure is expected
    say "test_vmalloc returned (exit status $RC; non-zero is normal: the module unloads itself)"
fi
tf_append trace_marker "VMLAB end name=$NAME rc=$RC"
show "sleep $TAIL_S"
[[ $DRY_RUN == 1 ]] || sleep "$TAIL_S"
tf_write tracing_on 0
if [[ -n $SAMPLER ]]; then kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; SAMPLER=""; fi

# ----------------------------------------------------------------------------- save
show "gzip < $TRACEFS/trace > $OUT/${NAME}_trace.txt.gz"
show "$DMESG | tail -n +$((DMESG_BEFORE + 1)) > $OUT/${NAME}_dmesg.txt"
show "(parameters, kprobe_events, env) > $OUT/"
if [[ $DRY_RUN != 1 ]]; then
    gzip -c < "$TRACEFS/trace" > "$OUT/${NAME}_trace.txt.gz" || die "cannot save the trace"
    $DMESG 2>/dev/null | tail -n +$((DMESG_BEFORE + 1)) > "$OUT/${NAME}_dmesg.txt"
    {
        echo "${PARAMS[*]:-}"
        echo "ncpus=$NCPUS kernel=$(uname -r) page_size=$(getconf PAGESIZE 2>/dev/null || echo 4096) mode=$PROBE_MODE rc=$RC"
    } > "$OUT/${NAME}_params.txt"
    tf_read kprobe_events > "$OUT/kprobe_events.txt"
    {
        echo "uname: $(uname -a)"
        echo "nproc: $NCPUS"
        grep -m1 '^model name' /proc/cpuinfo 2>/dev/null
        grep '^MemTotal:' "$MEMINFO" 2>/dev/null
        echo "trace_clock: $(tf_read trace_clock)"
        echo "recorded_by: $PROG"
    } > "$OUT/env.txt"
    for d in "$TRACEFS"/per_cpu/cpu*; do
        [[ -r $d/stats ]] && { echo "== $d"; cat "$d/stats"; }
    done > "$OUT/${NAME}_ringbuf_stats.txt" 2>/dev/null
    if grep -qE '^(overrun|dropped events): [1-9]' "$OUT/${NAME}_ringbuf_stats.txt" 2>/dev/null; then
        say "warning: the ring buffer overran or dropped events (see ${NAME}_ringbuf_stats.txt); use a larger -b"
    fi
    grep -q 'Summary:' "$OUT/${NAME}_dmesg.txt" || say "warning: no test_vmalloc 'Summary:' line in the new dmesg lines"
fi
cleanup
trap - EXIT
say "done: $OUT"
say "load it with: python -c 'import vmlab; print(vmlab.load_kernel_run(\"$OUT\", run=\"$NAME\"))'"
exit 0
