# A minimal stand-in for Emulab's NS parser, for the baseline of bench/frontend: the same Tcl interpreter work
# (redefined `set` with Emulab's renaming, one command per object, the `$ns run` name check) without a database.
# It is NOT Emulab's parser; the figure Emulab's own parser gave on this machine kind is quoted beside it.
namespace eval GLOBALS { variable last_class {}; variable counter 0; variable nodes {}; variable lans {} }
rename set real_set
proc set {args} {
    if {[llength $args] == 1} { return [uplevel real_set \{[lindex $args 0]\}] }
    real_set var [lindex $args 0]
    real_set val [lindex $args 1]
    real_set ret [uplevel real_set \{$var\} \{$val\}]
    if {$::GLOBALS::last_class == {}} { return $ret }
    real_set base [lindex [split $var (] 0]
    if {[uplevel info globals $base] == {}} { return $ret }
    if {$val == $::GLOBALS::last_class} {
        regsub -all {[\(]} $var {-} out
        regsub -all {[\)]} $out {} val
        uplevel rename $::GLOBALS::last_class $val
        real_set i [lsearch -exact $::GLOBALS::nodes $::GLOBALS::last_class]
        if {$i >= 0} { lset ::GLOBALS::nodes $i $val }
    }
    real_set ::GLOBALS::last_class {}
    return [uplevel real_set \{$var\} \{$val\}]
}
proc new {cls} { proc sim1 {m args} { return [eval sim_$m $args] }; real_set ::GLOBALS::last_class sim1; return sim1 }
proc sim_node {} {
    real_set n tbnode-n[incr ::GLOBALS::counter]
    proc $n {args} {}
    lappend ::GLOBALS::nodes $n
    real_set ::GLOBALS::last_class $n
    return $n
}
proc sim_make-lan {members bw delay} {
    real_set l tblan-lan[incr ::GLOBALS::counter]
    proc $l {args} {}
    lappend ::GLOBALS::lans [list $l $members]
    real_set ::GLOBALS::last_class $l
    return $l
}
proc sim_rtproto {p} {}
proc sim_run {} {
    foreach n [lsort $::GLOBALS::nodes] { if {![regexp {^[-0-9A-Za-z]+$} $n]} { puts "bad $n" } }
}
rename source real_source
proc source {f} { if {$f ne "tb_compat.tcl"} { uplevel 1 real_source $f } }
proc tb-set-node-os {n os} {}
source [lindex $argv 0]
