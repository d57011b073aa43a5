# An oracle for Emulab's naming rule, run by the real tclsh: Emulab's redefined `set` (parse.tcl) and the
# id counter of sim.tcl, re-implemented from their documented behaviour, with just enough of the Simulator
# for the test files. It prints every node, link and LAN name in creation order, or the Tcl error.
# Usage: tclsh emulab-naming.tcl FILE.ns
# Emulab's parse.tcl in its anonymous mode (no experiment given): the experiment's project, group and name.
namespace eval GLOBALS {
    variable pid PID
    variable gid GID
    variable eid EID
    variable elab_in_elab 0
    variable elabinelab_topo ""
    variable elabinelab_singlenet 0
}
namespace eval E {
    variable last {}
    variable counter 0
    variable newc 0
    variable order {}
    variable ends
    array set ends {}
}
rename set real_set
proc set {args} {
    if {[llength $args] == 1} { return [uplevel 1 [list real_set [lindex $args 0]]] }
    real_set var [lindex $args 0]
    real_set val [lindex $args 1]
    if {$::E::last eq ""} { return [uplevel 1 [list real_set $var $val]] }
    real_set ret [uplevel 1 [list real_set $var $val]]
    real_set base [lindex [split $var (] 0]
    # Only variables that exist as globals rename; a proc's plain locals do not.
    if {[uplevel 1 [list info globals $base]] eq ""} { return $ret }
    if {$val eq $::E::last} {
        real_set new [string map {( - ) {}} $var]
        # As Emulab's: renamed where the set is, so inside `namespace eval X` the command becomes ::X::name.
        uplevel 1 [list rename $::E::last $new]
        E::moved $::E::last $new
        real_set val $new
    }
    real_set ::E::last {}
    return [uplevel 1 [list real_set $var $val]]
}
# Keeps the bookkeeping keyed by current names when an object is renamed.
proc E::moved {old new} {
    real_set i [lsearch -exact $::E::order $old]
    if {$i >= 0} { lset ::E::order $i $new }
    if {[info exists ::E::kind($old)]} {
        real_set ::E::kind($new) $::E::kind($old)
        unset ::E::kind($old)
    }
    if {[info exists ::E::ends($old)]} {
        real_set ::E::ends($new) $::E::ends($old)
        unset ::E::ends($old)
    }
    foreach k [array names ::E::ends] {
        real_set e {}
        foreach x $::E::ends($k) { lappend e [expr {$x eq $old ? $new : $x}] }
        real_set ::E::ends($k) $e
    }
}
proc E::object {kind name} {
    lappend ::E::order $name
    real_set ::E::kind($name) $kind
    real_set ::E::last $name
    return $name
}
proc E::method {name m args} {
    if {$m eq "queue"} { return queue-of-$name }
    return ""
}
proc new {class args} {
    real_set name $class[incr ::E::newc]
    if {$class eq "Simulator"} {
        proc $name {m args} { return [eval [list E::sim_$m] $args] }
    } else {
        proc $name {args} { return "" }
    }
    real_set ::E::last $name
    return $name
}
proc E::sim_node {args} {
    real_set n tbnode-n[incr ::E::counter]
    interp alias {} ::$n {} E::node_method
    return [E::object node $n]
}
# A node's program-agent, disk-agent and custom-agent make a Program, Disk or Custom object with new.
proc E::node_method {m args} {
    switch -- $m {
        program-agent { return [new Program] }
        disk-agent { return [new Disk] }
        custom-agent { return [new Custom] }
    }
    return ""
}
proc E::sim_duplex-link {a b bw d q} {
    real_set l tblink-l[incr ::E::counter]
    interp alias {} $l {} E::method $l
    real_set ::E::ends($l) [list $a $b]
    return [E::object link $l]
}
proc E::sim_make-lan {members bw d} {
    real_set l tblan-lan[incr ::E::counter]
    proc ::$l {args} {}
    return [E::object lan $l]
}
proc E::sim_make-cloud {members bw d} { return [E::sim_make-lan $members $bw $d] }
proc E::sim_link {a b} {
    foreach {l e} [array get ::E::ends] {
        if {$e eq [list $a $b] || $e eq [list $b $a]} { return $l }
    }
    error "no link"
}
proc E::sim_rtproto {p} {}
# Emulab's run and at read tb_compat.tcl's namespace first: without it, Tcl itself fails.
# Emulab's run reads tb_compat.tcl's oml_use_control first: without the file, Tcl itself fails there. It then
# calls every node's methods by name.
proc E::sim_run {} {
    real_set oml $::TBCOMPAT::oml_use_control
    real_set nodes 0
    foreach o $::E::order {
        if {$::E::kind($o) ne "node"} { continue }
        incr nodes
        if {[info commands ::$o] eq ""} { error "invalid command name \"$o\"" }
    }
    if {$::GLOBALS::elab_in_elab && $nodes == 0} { uplevel #0 E::elab }
}
proc E::sim_at {t e} {}
# Event objects take ids from the Simulator's counter (sequences, timelines) or from new's (groups), and are
# named by set like the others; they are not reported.
proc E::named {name} {
    proc ::$name {args} { return "" }
    real_set ::E::last $name
    return $name
}
proc E::sim_event-timeline {args} { return [E::named tbtl-tl[incr ::E::counter]] }
proc E::sim_event-sequence {{seq {}} {catch {}} {catch_seq {}}} {
    # The catch form's combined sequence is a string of words, each taken as an event without a type.
    if {$catch ne ""} { error "Missing event type" }
    return [E::named tbseq-seq[incr ::E::counter]]
}
proc E::sim_event-group {{list {}}} { return [new EventGroup] }
# The inner testbed of an elab-in-elab experiment without nodes: the servers of the topology, mypc1..N, and the
# LAN publiclan unless singlenet. Written for this oracle from Emulab's description of the topologies.
proc E::elab {} {
    switch -- $::GLOBALS::elabinelab_topo {
        "" - xen { real_set servers {myboss myops} }
        opsvm { real_set servers {myboss} }
        withfsnode { real_set servers {myboss myops myfs} }
        default { error "couldn't read file elabinelab-$::GLOBALS::elabinelab_topo.ns" }
    }
    foreach v $servers { uplevel #0 [list set $v [$::ns node]] }
    real_set members $servers
    for {real_set i 1} {$i <= $::TBCOMPAT::elabinelab_maxpcs} {incr i} {
        uplevel #0 [list set mypc$i [$::ns node]]
        lappend members mypc$i
    }
    if {$::GLOBALS::elabinelab_singlenet == 0} { uplevel #0 [list set publiclan [$::ns make-lan $members 100Mb 0ms]] }
}
proc E::sim_attach-agent {n a} {}
proc E::sim_connect {a b} {}
proc queue-of-tblink {args} {}
rename source real_source
# Emulab's parse-ns writes TBCOMPAT's database values (and elabinelab_maxpcs) before the file.
namespace eval ::TBCOMPAT { variable elabinelab_maxpcs 0 }
proc source {f} {
    if {$f ne "tb_compat.tcl"} { error "cannot source $f" }
    namespace eval ::TBCOMPAT {
        variable elabinelab_maxpcs
        variable elabinelab_hardware
        variable oml_use_control 1
    }
    proc ::tb-elab-in-elab {onoff} { real_set ::GLOBALS::elab_in_elab [expr {$onoff ? 1 : 0}] }
    proc ::tb-elab-in-elab-topology {topo} { real_set ::GLOBALS::elabinelab_topo $topo }
    proc ::tb-elabinelab-singlenet {args} {
        real_set ::GLOBALS::elabinelab_singlenet [expr {$args eq "" ? 1 : [lindex $args 0]}]
    }
}
proc unknown {args} {
    if {[string match tb-* [lindex $args 0]] && [info exists ::TBCOMPAT::oml_use_control]} { return "" }
    if {[string match queue-of-* [lindex $args 0]]} { return "" }
    error "Unknown: $args"
}
proc E::report {} {
    foreach obj $::E::order { puts "$::E::kind($obj) $obj" }
}
if {[catch {real_source [lindex $argv 0]} msg]} { puts "ERROR: $msg" }
E::report
