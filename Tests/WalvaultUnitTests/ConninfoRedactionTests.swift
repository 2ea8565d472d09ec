import Testing
import WalvaultPostgres
import WalvaultTesting

/// Issue 24, items 5 and 7: URIs connect as libpq means them, and no conninfo reaches a message
/// beyond host, port, dbname and user.
@Suite struct ConninfoRedactionTests {
    @Test func redactionShowsOnlyWhereAndAsWhom() throws {
        let uri = "postgresql://app:PASSWORDMARKER@/shop?host=/var/run/postgresql&port=5433&sslkey=/k&application_name=x"
        #expect(try ConnectionString(uri).redacted == "host=/var/run/postgresql port=5433 dbname=shop user=app")
        #expect(ConnectionString.redacted("host=db password=PASSWORDMARKER user=u") == "host=db user=u")
        #expect(ConnectionString.redacted("") == "libpq defaults")
        let broken = ConnectionString.redacted("host=/tmp user=postgres PASSWORDMARKER")
        #expect(!broken.contains("PASSWORDMARKER") && broken.contains("not shown"))
    }

    @Test func aPasswordWithoutItsKeyIsNeverEchoedByAFailedConnection() {
        for conninfo in [
            "host=/tmp user=postgres PASSWORDMARKER", "postgresql://u:PASSWORDMARKER@host:notaport/db", "host='unterminated PASSWORDMARKER"
        ] {
            do {
                _ = try PostgresConnection(conninfo: conninfo)
                Issue.record("expected a refusal for a broken conninfo")
            } catch {
                #expect(!"\(error)".contains("PASSWORDMARKER"), "\(error)")
                #expect("\(error)".contains("[cluster] conninfo"), "\(error)")
            }
        }
    }

    @Test func aFailedConnectionNamesItsTargetButNotItsPassword() {
        let conninfo = "postgresql://postgres:PASSWORDMARKER@/postgres?host=/nonexistent-walvault-socket&port=1&connect_timeout=2"
        do {
            _ = try PostgresConnection(conninfo: conninfo)
            Issue.record("expected no server there")
        } catch {
            let message = "\(error)"
            #expect(!message.contains("PASSWORDMARKER"), "\(message)")
            #expect(message.contains("host=/nonexistent-walvault-socket port=1 dbname=postgres user=postgres"), "\(message)")
        }
    }
}
