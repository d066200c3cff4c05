// Prints the JVM's default time zone, its current offset and, given a zone id, whether
// the default has the same rules (no jshell, no source launcher: the images carry a JRE,
// so this is compiled on the host and mounted).
public class TZ {
    public static void main(String[] args) {
        java.util.TimeZone tz = java.util.TimeZone.getDefault();
        System.out.println("default zone: " + tz.getID() + " offset "
            + java.time.ZonedDateTime.now().getOffset());
        for (String id : args) {
            System.out.println("same rules as " + id + ": "
                + tz.hasSameRules(java.util.TimeZone.getTimeZone(id)));
        }
    }
}
