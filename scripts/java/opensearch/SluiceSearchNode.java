// A single OpenSearch node run from Maven jars (scripts/search.sh starts it; scripts/search.sh
// install compiles this file into the tools cache).
//
//   java -Dopensearch.path.home=HOME -Dopensearch.path.conf=CONF [-Dsluice.ready.file=FILE] \
//        -cp 'LIB/*:launcher.jar' SluiceSearchNode PLUGIN_CLASS...
//
// CONF holds opensearch.yml and log4j2.properties, as in a distribution. The plugins (modules in
// a distribution: transport-netty4, analysis-common, ...) are classes on the classpath, passed by
// name: OpenSearch's Node takes such classpath plugins through its protected constructor, as its
// own test MockNode does. There is no Bootstrap here: no security manager, no jar-hell or
// production bootstrap checks, no native memory lock. Once the node has started (HTTP bound),
// FILE gets the HTTP address; a node that cannot start exits 1; SIGTERM closes the node.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

public final class SluiceSearchNode {
    public static void main(String[] args) throws Exception {
        String home = System.getProperty("opensearch.path.home");
        String conf = System.getProperty("opensearch.path.conf");
        if (home == null || conf == null) {
            System.err.println("set -Dopensearch.path.home and -Dopensearch.path.conf");
            System.exit(2);
        }
        // logging first: the plugin classes log as they load
        LogConfigurator.registerErrorListener();
        Environment env = InternalSettingsPreparer.prepareEnvironment(
            Settings.builder().put("path.home", home).build(), Collections.emptyMap(), Paths.get(conf), () -> "sluice");
        LogConfigurator.configure(env);
        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        for (String name : args) {
            plugins.add(Class.forName(name).asSubclass(Plugin.class));
        }

        Node node = new Node(env, plugins, true) {
        };
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "sluice-search-shutdown"));
        try {
            node.start();
        } catch (Throwable t) {
            System.err.println("OpenSearch node did not start: " + t);
            t.printStackTrace();
            Runtime.getRuntime().halt(1);
        }
        // the node's threads are daemons (as under OpenSearch's Bootstrap): keep the JVM up
        Thread keepAlive = new Thread(() -> {
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "sluice-search-keepalive");
        keepAlive.setDaemon(false);
        keepAlive.start();

        String ready = System.getProperty("sluice.ready.file");
        if (ready != null) {
            String http = node.injector().getInstance(HttpServerTransport.class).boundAddress().publishAddress().toString();
            Path file = Paths.get(ready);
            Path tmp = Paths.get(ready + ".tmp");
            Files.write(tmp, (http + "\n").getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }
}
